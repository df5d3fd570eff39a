/** Which broker events trigger a repair, how a burst is gathered, and when the read time is refreshed. */
import { BrokerDriftWatch, type DriftWatchOptions } from '../src/controller/broker-drift-watch';
import {
  brokerEventIndex,
  concernsWarren,
  deletedByRoute,
  routeObjectIndex,
} from '../src/controller/broker-events';
import { BROKER_READ_REFRESH_MS, withReadTime } from '../src/controller/route-status';
import { compile } from '../src/engine/compile';
import { createLogger } from '../src/observability/log';
import { createOperatorMetrics } from '../src/observability/metrics';
import { route } from './resources';

const desired = compile([route('r'), route('s')], []);
const index = brokerEventIndex(desired);
const Q = 'notification-service.r';

describe('concernsWarren', () => {
  it.each([
    ['queue.deleted', { name: Q, vhost: '/' }, true],
    ['queue.deleted', { name: Q, vhost: 'other' }, false],
    ['queue.deleted', { name: 'someone-elses', vhost: '/' }, false],
    ['exchange.deleted', { name: `${Q}.dlx`, vhost: '/' }, true],
    [
      'binding.deleted',
      { source_name: 'user.events', destination_name: Q, destination_kind: 'queue', vhost: '/' },
      true,
    ],
    [
      'binding.deleted',
      { source_name: 'x', destination_name: Q, destination_kind: 'exchange', vhost: '/' },
      false,
    ],
    ['user.deleted', { name: Buffer.from('warren-notification-service') }, true],
    ['permission.deleted', { user: 'warren-user-service', vhost: '/' }, true],
    ['vhost.deleted', { name: '/' }, true],
    ['queue.created', { name: Q, vhost: '/' }, false],
  ])('%s %j: %s', (type, headers, expected) => {
    expect(concernsWarren({ type, headers }, index)).toBe(expected);
  });
});

/** A drift watch tracking `desired`, and a function that hands it a broker event. */
function listening(options: Pick<DriftWatchOptions, 'enqueue' | 'onDeleted'>) {
  const watch = new BrokerDriftWatch({
    amqpUrl: 'amqp://guest:guest@127.0.0.1:1',
    vhost: '/',
    metrics: createOperatorMetrics(),
    log: createLogger('test', 'silent'),
    ...options,
  });
  watch.track(desired);
  return (type: string, headers: Record<string, unknown>) =>
    (watch as unknown as { onEvent: (t: string, h: typeof headers) => void }).onEvent(
      type,
      headers,
    );
}

describe('BrokerDriftWatch', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('gathers a burst of deletions into one reconcile, and ignores what Warren does not want', () => {
    const enqueue = jest.fn();
    const hear = listening({ enqueue });
    hear('queue.deleted', { name: 'someone-elses', vhost: '/' });
    jest.advanceTimersByTime(1000);
    expect(enqueue).not.toHaveBeenCalled();
    hear('queue.deleted', { name: Q, vhost: '/' });
    hear('binding.deleted', {
      source_name: 'user.events',
      destination_name: Q,
      destination_kind: 'queue',
      vhost: '/',
    });
    hear('queue.deleted', { name: `${Q}.dlq`, vhost: '/' });
    jest.advanceTimersByTime(1000);
    expect(enqueue).toHaveBeenCalledTimes(1);
  });

  it('says what each route lost before the reconcile, once per burst', () => {
    const onDeleted = jest.fn();
    const hear = listening({
      enqueue: () => expect(onDeleted).toHaveBeenCalledTimes(1),
      onDeleted,
    });
    hear('queue.deleted', { name: Q, vhost: '/' });
    hear('queue.deleted', { name: Q, vhost: '/' });
    jest.advanceTimersByTime(1000);
    expect(onDeleted.mock.calls).toEqual([
      [new Map([['default/r', [{ kind: 'queue', vhost: '/', name: Q }]]])],
    ]);
    jest.advanceTimersByTime(1000);
    expect(onDeleted).toHaveBeenCalledTimes(1);
  });
});

describe('deletedByRoute', () => {
  const routes = routeObjectIndex(desired.routes);

  it('names each lost object as the plan does, for every route that owns it', () => {
    const deleted = deletedByRoute(
      [
        { type: 'queue.deleted', headers: { name: Q, vhost: '/' } },
        {
          type: 'binding.deleted',
          headers: {
            source_name: 'user.events',
            destination_name: Q,
            destination_kind: 'queue',
            routing_key: 'user.created',
            vhost: '/',
          },
        },
        // Shared by both routes.
        { type: 'exchange.deleted', headers: { name: Buffer.from('user.events'), vhost: '/' } },
        // Not a route's object (a service's), nor anything of Warren's.
        { type: 'user.deleted', headers: { name: 'warren-notification-service' } },
        { type: 'queue.deleted', headers: { name: 'someone-elses', vhost: '/' } },
      ],
      routes,
    );
    expect(Object.fromEntries(deleted)).toEqual({
      'default/r': [
        { kind: 'queue', vhost: '/', name: Q },
        { kind: 'binding', vhost: '/', name: `user.events -> ${Q} (user.created)` },
        { kind: 'exchange', vhost: '/', name: 'user.events' },
      ],
      'default/s': [{ kind: 'exchange', vhost: '/', name: 'user.events' }],
    });
  });

  it('finds nothing for an object of the same name in another vhost', () => {
    const deleted = deletedByRoute(
      [{ type: 'queue.deleted', headers: { name: Q, vhost: 'other' } }],
      routes,
    );
    expect(deleted.size).toBe(0);
  });
});

describe('withReadTime', () => {
  const now = new Date('2026-01-01T01:00:00Z');
  const status = (brokerReadAt: string, depth = 0) => ({
    observedGeneration: 1,
    depth,
    brokerReadAt,
  });
  const fresh = status(now.toISOString());

  it('keeps a recent read time when nothing else changed, so an idle resync writes nothing', () => {
    const before = status(new Date(now.getTime() - 60_000).toISOString());
    expect(withReadTime(before, fresh, now)).toEqual(before);
  });

  it('refreshes it once it is older than the refresh period, or when anything else changed', () => {
    const old = status(new Date(now.getTime() - BROKER_READ_REFRESH_MS).toISOString());
    expect(withReadTime(old, fresh, now)).toEqual(fresh);
    const recent = status(new Date(now.getTime() - 60_000).toISOString(), 5);
    expect(withReadTime(recent, fresh, now)).toEqual(fresh);
  });
});
