import { ContractError, WARREN_HEADERS } from '@warren/contracts';
import {
  InfrastructureError,
  NoHandlerError,
  attemptOf,
  decideFailure,
  failureHeaders,
} from '../src';
import { testTopology } from './support/topology';

const queue = testTopology('svc', {
  maxAttempts: 3,
  delaysMs: [1000, 5000],
  nonRetryableErrors: ['ValidationError', 'P2002'],
}).consumes[0];

describe('decideFailure (the retry protocol of the topology document)', () => {
  it('retries through the level whose delay follows the failed attempt', () => {
    expect(decideFailure(queue, 1, new Error('x'))).toEqual({
      action: 'retry',
      exchange: 'svc.orders.retry',
      routingKey: '1000ms',
      nextAttempt: 2,
      delayMs: 1000,
    });
    expect(decideFailure(queue, 2, new Error('x'))).toMatchObject({
      action: 'retry',
      routingKey: '5000ms',
      nextAttempt: 3,
    });
  });

  it('dead-letters after maxAttempts, on non-retryable kinds (name or code), contract errors and missing handlers', () => {
    const dl = { action: 'dead-letter', exchange: 'svc.orders.dlx', routingKey: 'svc.orders' };
    expect(decideFailure(queue, 3, new Error('x'))).toEqual({ ...dl, reason: 'retries-exhausted' });
    expect(
      decideFailure(queue, 1, Object.assign(new Error('x'), { name: 'ValidationError' })),
    ).toEqual({ ...dl, reason: 'non-retryable' });
    expect(decideFailure(queue, 1, Object.assign(new Error('dup'), { code: 'P2002' }))).toEqual({
      ...dl,
      reason: 'non-retryable',
    });
    expect(decideFailure(queue, 1, new ContractError([{ path: 'id', message: 'bad' }]))).toEqual({
      ...dl,
      reason: 'contract-invalid',
    });
    expect(decideFailure(queue, 1, new NoHandlerError('none'))).toEqual({
      ...dl,
      reason: 'non-retryable',
    });
  });

  it('requeues infrastructure failures without using an attempt', () => {
    expect(decideFailure(queue, 3, new InfrastructureError('db down'))).toEqual({
      action: 'requeue',
    });
    expect(
      decideFailure(queue, 1, Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })),
    ).toEqual({ action: 'requeue' });
    expect(
      decideFailure(queue, 1, Object.assign(new Error('admin shutdown'), { code: '57P01' })),
    ).toEqual({ action: 'requeue' });
    expect(decideFailure(queue, 1, Object.assign(new Error('prisma'), { code: 'P1001' }))).toEqual({
      action: 'requeue',
    });
    expect(
      decideFailure(
        queue,
        1,
        new Error('wrapped', { cause: Object.assign(new Error('x'), { code: '08006' }) }),
      ),
    ).toEqual({ action: 'requeue' });
    // A unique violation is the handler's business, not an outage.
    expect(
      decideFailure(queue, 1, Object.assign(new Error('dup'), { code: '23505' })),
    ).toMatchObject({ action: 'retry' });
  });

  it('drops (after logging) when the route has dead-lettering off, and never retries with one attempt', () => {
    const single = testTopology('svc', { maxAttempts: 1 }).consumes[0];
    expect(single.retry.exchange).toBe('');
    expect(decideFailure({ ...single, deadLetter: null }, 1, new Error('x'))).toEqual({
      action: 'drop',
      reason: 'retries-exhausted',
    });
  });
});

describe('failure headers', () => {
  const at = new Date('2026-01-01T00:00:00.000Z');
  const facts = {
    queue: 'svc.orders',
    exchange: 'svc.events',
    routingKey: 'order.created',
    attempt: 1,
    error: new TypeError('bad'),
    at,
  };

  it('records where the message came from and the error, and counts attempts', () => {
    const headers = failureHeaders({ [WARREN_HEADERS.correlationId]: 'c1' }, facts, { attempt: 2 });
    expect(headers).toEqual({
      [WARREN_HEADERS.correlationId]: 'c1',
      [WARREN_HEADERS.originalExchange]: 'svc.events',
      [WARREN_HEADERS.originalRoutingKey]: 'order.created',
      [WARREN_HEADERS.originalQueue]: 'svc.orders',
      [WARREN_HEADERS.firstFailureAt]: at.toISOString(),
      [WARREN_HEADERS.lastFailureAt]: at.toISOString(),
      [WARREN_HEADERS.error]: 'bad',
      [WARREN_HEADERS.errorKind]: 'TypeError',
      [WARREN_HEADERS.attempt]: 2,
    });
  });

  it('keeps the first hop through retries (the retry queue re-routes via the default exchange)', () => {
    const first = failureHeaders({}, facts, { attempt: 2 });
    const later = new Date('2026-01-01T00:00:05.000Z');
    const dead = failureHeaders(
      first,
      { ...facts, exchange: '', routingKey: 'svc.orders', attempt: 3, at: later },
      { reason: 'retries-exhausted' },
    );
    expect(dead[WARREN_HEADERS.originalExchange]).toBe('svc.events');
    expect(dead[WARREN_HEADERS.originalRoutingKey]).toBe('order.created');
    expect(dead[WARREN_HEADERS.firstFailureAt]).toBe(at.toISOString());
    expect(dead[WARREN_HEADERS.lastFailureAt]).toBe(later.toISOString());
    expect(dead[WARREN_HEADERS.attempt]).toBe(3);
    expect(dead[WARREN_HEADERS.reason]).toBe('retries-exhausted');
  });

  it('reads the attempt number, defaulting to the first delivery', () => {
    expect(attemptOf(queue, undefined)).toBe(1);
    expect(attemptOf(queue, { [WARREN_HEADERS.attempt]: 3 })).toBe(3);
    expect(attemptOf(queue, { [WARREN_HEADERS.attempt]: 'junk' })).toBe(1);
  });

  it('strategy broker: the attempt is 1 + the broker-counted x-delivery-count, never a header Warren wrote', () => {
    expect(attemptOf(brokerQueue, undefined)).toBe(1);
    expect(attemptOf(brokerQueue, { 'x-delivery-count': 2 })).toBe(3);
    expect(attemptOf(brokerQueue, { [WARREN_HEADERS.attempt]: 3 })).toBe(1);
    expect(attemptOf(brokerQueue, { 'x-delivery-count': 'junk' })).toBe(1);
  });
});

const brokerQueue = {
  ...queue,
  retry: { ...queue.retry, strategy: 'broker' as const, exchange: '', levels: [] },
};

describe('strategy broker (RabbitMQ delayed retry)', () => {
  it('hands a retryable failure back to the queue with the delay it will wait', () => {
    expect(decideFailure(brokerQueue, 1, new Error('x'))).toEqual({
      action: 'delay',
      nextAttempt: 2,
      delayMs: 1000,
    });
    expect(decideFailure(brokerQueue, 2, new Error('x'))).toEqual({
      action: 'delay',
      nextAttempt: 3,
      delayMs: 5000,
    });
  });

  it('dead-letters and requeues as with TTL queues', () => {
    expect(decideFailure(brokerQueue, 3, new Error('x'))).toMatchObject({
      action: 'dead-letter',
      reason: 'retries-exhausted',
      exchange: 'svc.orders.dlx',
    });
    expect(decideFailure(brokerQueue, 1, new InfrastructureError('db down'))).toEqual({
      action: 'requeue',
    });
  });

  it('writes no first failure time it does not know (earlier attempts left no headers)', () => {
    const at = new Date('2026-01-01T00:00:00.000Z');
    const facts = {
      queue: 'svc.orders',
      exchange: 'svc.events',
      routingKey: 'order.created',
      error: new Error('boom'),
      at,
      earlierFailuresUnrecorded: true,
    };
    const last = failureHeaders(
      undefined,
      { ...facts, attempt: 3 },
      { reason: 'retries-exhausted' },
    );
    expect(last[WARREN_HEADERS.firstFailureAt]).toBeUndefined();
    expect(last[WARREN_HEADERS.lastFailureAt]).toBe(at.toISOString());
    expect(last[WARREN_HEADERS.originalExchange]).toBe('svc.events');
    const first = failureHeaders(undefined, { ...facts, attempt: 1 }, { reason: 'non-retryable' });
    expect(first[WARREN_HEADERS.firstFailureAt]).toBe(at.toISOString());
  });
});
