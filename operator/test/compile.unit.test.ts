import { CompileError, compile } from '../src/engine/compile';
import { retryDelays } from '../src/engine/delays';
import { loadExamples, retryPolicy, route } from './resources';

describe('compile the seed topology (examples/)', () => {
  it('declares the exchanges, queues, bindings and users of the four routes', async () => {
    const { routes, policies } = await loadExamples();
    const desired = compile(routes, policies);
    const q = 'notification-service.user-created-to-notification';
    expect(desired.exchanges.map((e) => e.name)).toEqual(
      expect.arrayContaining(['user.events', 'order.events', `${q}.retry`, `${q}.dlx`]),
    );
    expect(desired.exchanges).toHaveLength(2 + 4 * 2);
    expect(desired.queues.find((queue) => queue.name === q)).toMatchObject({
      queueType: 'quorum',
      arguments: {
        'x-queue-type': 'quorum',
        'x-warren-managed-by': 'warren',
        'x-warren-group': q,
        'x-dead-letter-exchange': `${q}.dlx`,
      },
    });
    // one TTL queue per distinct delay of the three strikes (1s, 2s), dead-lettering back to q alone
    expect(desired.queues.find((queue) => queue.name === `${q}.retry.2s`)).toMatchObject({
      arguments: {
        'x-message-ttl': 2000,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': q,
      },
    });
    expect(desired.queues).toHaveLength(4 * 4);
    expect(
      desired.bindings
        .filter((b) => b.source === 'user.events')
        .map((b) => b.routingKey)
        .sort(),
    ).toEqual(['user.created', 'user.rejected', 'user.validated']);
    expect(desired.policies).toEqual([]);
    expect(desired.users.map((u) => u.name).sort()).toEqual([
      'warren-notification-service',
      'warren-order-service',
      'warren-user-service',
    ]);
  });

  it('limits each service user to exactly its own queues and exchanges', async () => {
    const { routes, policies } = await loadExamples();
    const permission = compile(routes, policies).permissions.find(
      (p) => p.user === 'warren-order-service',
    )!;
    expect(permission.configure).toBe('^$');
    expect(permission.read).toBe('^order\\-service\\.user\\-verdict\\-to\\-order$');
    const write = new RegExp(permission.write);
    for (const allowed of [
      'order.events',
      'order-service.user-verdict-to-order.retry',
      'order-service.user-verdict-to-order.dlx',
    ]) {
      expect(write.test(allowed)).toBe(true);
    }
    for (const denied of [
      'user.events',
      'order.eventsX',
      'xorder.events',
      'order-service.user-verdict-to-order',
      'user-service.order-created-to-user.retry',
    ]) {
      expect(write.test(denied)).toBe(false);
    }
  });

  it('writes the topology document each service reads', async () => {
    const { routes, policies } = await loadExamples();
    const notification = compile(routes, policies).services.find(
      (s) => s.service === 'notification-service',
    )!;
    expect(notification.publishes).toEqual([]);
    expect(notification.consumes.map((c) => c.eventTypes)).toEqual([
      ['order.confirmed', 'order.cancelled'],
      ['user.created'],
    ]);
    expect(notification.consumes[1]).toMatchObject({
      route: 'default/user-created-to-notification',
      queue: 'notification-service.user-created-to-notification',
      prefetch: 10,
      source: { service: 'user-service', exchange: 'user.events', exchangeType: 'topic' },
      retry: {
        policy: 'default/three-strikes',
        maxAttempts: 3,
        delaysMs: [1000, 2000],
        nonRetryableErrors: ['ValidationError', 'ContractViolation'],
        exchange: 'notification-service.user-created-to-notification.retry',
        levels: [
          {
            delayMs: 1000,
            queue: 'notification-service.user-created-to-notification.retry.1s',
            routingKey: 'notification-service.user-created-to-notification.retry.1s',
          },
          {
            delayMs: 2000,
            queue: 'notification-service.user-created-to-notification.retry.2s',
            routingKey: 'notification-service.user-created-to-notification.retry.2s',
          },
        ],
      },
      deadLetter: {
        exchange: 'notification-service.user-created-to-notification.dlx',
        queue: 'notification-service.user-created-to-notification.dlq',
      },
    });
    const order = compile(routes, policies).services.find((s) => s.service === 'order-service')!;
    expect(order.publishes.map((p) => p.eventType)).toEqual([
      'order.created',
      'order.confirmed',
      'order.cancelled',
    ]);
  });

  it('uses the default vhost for routes without spec.vhost and names users after other vhosts', async () => {
    const { routes, policies } = await loadExamples();
    const desired = compile(routes, policies, { defaultVhost: 'staging' });
    expect(desired.vhosts).toEqual([{ kind: 'vhost', vhost: 'staging' }]);
    expect(desired.users.map((u) => u.name)).toContain('warren-user-service@staging');
  });
});

describe('compile options', () => {
  it('declares no retry objects without a RetryPolicy and no dead-letter objects when turned off', () => {
    const desired = compile([route('plain', { deadLetter: { enabled: false } })], []);
    expect(desired.queues.map((q) => q.name)).toEqual(['notification-service.plain']);
    expect(desired.exchanges.map((e) => e.name)).toEqual(['user.events']);
    // The argument stays, so turning dead-lettering back on changes nothing the broker cannot.
    expect(desired.queues[0]!.arguments['x-dead-letter-exchange']).toBe(
      'notification-service.plain.dlx',
    );
    expect(
      desired.services.find((s) => s.service === 'notification-service')!.consumes[0],
    ).toMatchObject({
      retry: { maxAttempts: 1, delaysMs: [], exchange: '', levels: [] },
      deadLetter: null,
    });
  });

  it('shares one retry queue between equal delays (fixed backoff)', () => {
    const policy = retryPolicy('fixed', {
      maxAttempts: 4,
      backoff: { type: 'fixed', initialDelay: '500ms' },
    });
    const desired = compile([route('r', { retryPolicyRef: { name: 'fixed' } })], [policy]);
    const consumer = desired.services.find((s) => s.service === 'notification-service')!
      .consumes[0]!;
    expect(consumer.retry.delaysMs).toEqual([500, 500, 500]);
    expect(consumer.retry.levels.map((l) => l.queue)).toEqual([
      'notification-service.r.retry.500ms',
    ]);
  });

  it('caps exponential delays at maxDelay', () => {
    const policy = retryPolicy('p', {
      maxAttempts: 6,
      backoff: { initialDelay: '1s', multiplier: 3, maxDelay: '20s' },
    });
    expect(retryDelays(policy.spec)).toEqual([1000, 3000, 9000, 20000, 20000]);
  });

  it('spaces linear delays by initialDelay, capped at maxDelay', () => {
    const policy = retryPolicy('p', {
      maxAttempts: 6,
      backoff: { type: 'linear', initialDelay: '300ms', maxDelay: '1s' },
    });
    expect(retryDelays(policy.spec)).toEqual([300, 600, 900, 1000, 1000]);
  });

  it('places a fanout route on one binding with an empty key', () => {
    const desired = compile(
      [route('f', { exchange: { name: 'broadcast', type: 'fanout' }, events: ['a.b', 'c.d'] })],
      [],
    );
    expect(
      desired.bindings.filter((b) => b.source === 'broadcast').map((b) => b.routingKey),
    ).toEqual(['']);
  });
});

describe('compile conflicts', () => {
  const problems = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      if (error instanceof CompileError) return error.problems;
      throw error;
    }
    throw new Error('expected a CompileError');
  };

  it('names both routes claiming one queue', () => {
    const a = route('a', { consumer: { service: 'x', queue: 'shared' } });
    const b = route('b', { consumer: { service: 'y', queue: 'shared' } });
    expect(problems(() => compile([a, b], []))).toEqual([
      'EventRoute default/a and EventRoute default/b both claim queue "shared" in vhost "/": a queue belongs to one EventRoute',
    ]);
  });

  it('names the route and the missing RetryPolicy', () => {
    expect(problems(() => compile([route('a', { retryPolicyRef: { name: 'nope' } })], []))).toEqual(
      ['EventRoute default/a: spec.retryPolicyRef.name: RetryPolicy default/nope not found'],
    );
  });

  it('names both routes declaring one exchange with different types', () => {
    const a = route('a', { exchange: { name: 'ev', type: 'topic' } });
    const b = route('b', { exchange: { name: 'ev', type: 'fanout' } });
    expect(problems(() => compile([a, b], []))).toEqual([
      'EventRoute default/a and EventRoute default/b both declare exchange "ev" in vhost "/" differently',
    ]);
  });

  it("names both routes when a queue collides with another route's dead-letter queue", () => {
    const a = route('a', { consumer: { service: 'x', queue: 'orders' } });
    const b = route('b', { consumer: { service: 'y', queue: 'orders.dlq' } });
    expect(problems(() => compile([a, b], []))).toEqual([
      'EventRoute default/a and EventRoute default/b both declare queue "orders.dlq" in vhost "/" differently',
    ]);
  });
});

describe('RetryPolicy strategy broker (RabbitMQ 4.3+ delayed retry)', () => {
  const linear = retryPolicy('linear', {
    maxAttempts: 4,
    strategy: 'broker',
    backoff: { type: 'linear', initialDelay: '300ms', maxDelay: '800ms' },
  });
  const fixed = retryPolicy('fixed', {
    maxAttempts: 3,
    strategy: 'broker',
    backoff: { type: 'fixed', initialDelay: '2s' },
  });
  const q = 'notification-service.r';
  const consumerOf = (desired: ReturnType<typeof compile>) =>
    desired.services.find((s) => s.service === 'notification-service')!.consumes[0]!;

  it('declares no retry exchange or queues: the consumer queue carries the delays', () => {
    const desired = compile([route('r', { retryPolicyRef: { name: 'linear' } })], [linear], {
      brokerVersion: '4.3.6',
    });
    expect(desired.queues.map((queue) => queue.name).sort()).toEqual([q, `${q}.dlq`]);
    expect(desired.exchanges.map((e) => e.name).sort()).toEqual([`${q}.dlx`, 'user.events']);
    expect(desired.queues.find((queue) => queue.name === q)!.arguments).toMatchObject({
      'x-delayed-retry-type': 'failed',
      'x-delayed-retry-min': 300,
      'x-delayed-retry-max': 800,
      'x-dead-letter-exchange': `${q}.dlx`,
    });
    expect(desired.routes[0]!.retryQueues).toEqual([]);
  });

  it('tells the consumer the strategy and the delays, and grants it no retry exchange', () => {
    const desired = compile([route('r', { retryPolicyRef: { name: 'linear' } })], [linear]);
    expect(consumerOf(desired).retry).toEqual({
      policy: 'default/linear',
      strategy: 'broker',
      maxAttempts: 4,
      delaysMs: [300, 600, 800],
      nonRetryableErrors: [],
      exchange: '',
      levels: [],
    });
    const permission = desired.permissions.find((p) => p.user === 'warren-notification-service')!;
    expect(new RegExp(permission.write).test(`${q}.retry`)).toBe(false);
    expect(new RegExp(permission.write).test(`${q}.dlx`)).toBe(true);
  });

  it('gives fixed backoff one delay (min = max)', () => {
    const desired = compile([route('r', { retryPolicyRef: { name: 'fixed' } })], [fixed]);
    expect(desired.queues.find((queue) => queue.name === q)!.arguments).toMatchObject({
      'x-delayed-retry-min': 2000,
      'x-delayed-retry-max': 2000,
    });
    expect(consumerOf(desired).retry.delaysMs).toEqual([2000, 2000]);
  });

  it('keeps ttl-queues the default', () => {
    const policy = retryPolicy('p', { backoff: { type: 'fixed', initialDelay: '1s' } });
    const desired = compile([route('r', { retryPolicyRef: { name: 'p' } })], [policy]);
    expect(consumerOf(desired).retry.strategy).toBe('ttl-queues');
    expect(desired.queues.find((queue) => queue.name === q)!.arguments).not.toHaveProperty(
      'x-delayed-retry-type',
    );
  });

  it('refuses it on a broker older than 4.3, naming the version and the way out', () => {
    expect(() =>
      compile([route('r', { retryPolicyRef: { name: 'linear' } })], [linear], {
        brokerVersion: '4.0.5',
      }),
    ).toThrow(
      'EventRoute default/r: RetryPolicy default/linear has spec.strategy broker, which needs RabbitMQ 4.3+ (delayed retry): the broker is 4.0.5; use strategy ttl-queues',
    );
  });

  it('refuses it on a classic queue', () => {
    expect(() =>
      compile(
        [
          route('r', {
            retryPolicyRef: { name: 'fixed' },
            consumer: { service: 'notification-service', queueType: 'classic' },
          }),
        ],
        [fixed],
        { brokerVersion: '4.3.6' },
      ),
    ).toThrow('which needs a quorum queue: spec.consumer.queueType is classic');
  });
});
