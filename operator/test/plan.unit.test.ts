import { compile } from '../src/engine/compile';
import type { BrokerState, QueueObject } from '../src/engine/model';
import { emptyState } from '../src/engine/model';
import { groupKey, plan } from '../src/engine/plan';
import { routeStatuses } from '../src/engine/status';
import { asActual, route } from './resources';

const Q = 'notification-service.r';

describe('plan', () => {
  const desired = compile([route('r')], []);

  it('creates everything on an empty broker, in dependency order', () => {
    const result = plan(desired, emptyState());
    expect(result.hasChanges).toBe(true);
    expect(result.counts.create).toBe(result.items.length);
    const kinds = [...new Set(result.items.map((item) => item.kind))];
    expect(kinds).toEqual(['vhost', 'exchange', 'queue', 'binding', 'user', 'permission']);
  });

  it('is empty when the broker matches', () => {
    const result = plan(desired, asActual(desired));
    expect(result.hasChanges).toBe(false);
    expect(result.counts.unchanged).toBe(result.items.length);
  });

  it('recreates an object deleted by hand', () => {
    const actual = asActual(desired);
    actual.queues = actual.queues.filter((queue) => queue.name !== Q);
    const result = plan(desired, actual);
    expect(
      result.items
        .filter((item) => item.action !== 'unchanged')
        .map((i) => [i.action, i.kind, i.name]),
    ).toEqual([['create', 'queue', Q]]);
  });

  it('reports a queue type change as impossible in place, naming object and field', () => {
    const changed = compile(
      [route('r', { consumer: { service: 'notification-service', queueType: 'classic' } })],
      [],
    );
    const result = plan(changed, asActual(desired));
    const impossible = result.items.filter((item) => item.action === 'impossible');
    expect(impossible.map((item) => item.name).sort()).toEqual([Q, `${Q}.dlq`]);
    expect(impossible[0]!.changes).toContainEqual({ field: 'type', from: 'quorum', to: 'classic' });
    expect(impossible[0]!.reason).toContain('cannot change type');
    expect(result.hasChanges).toBe(true);
  });

  it('updates a permission in place and removes a policy an older Warren declared', () => {
    const actual = asActual(desired);
    actual.policies.push({
      kind: 'policy',
      vhost: '/',
      name: `warren.${Q}`,
      pattern: `^${Q}$`,
      applyTo: 'queues',
      priority: 10,
      definition: { 'dead-letter-exchange': `${Q}.dlx` },
      group: Q,
    });
    actual.permissions[0]!.read = '.*';
    const result = plan(desired, actual);
    expect(
      result.items
        .filter((item) => item.action !== 'unchanged')
        .map((i) => [i.kind, i.action, i.changes[0]?.field]),
    ).toEqual([
      ['permission', 'update', 'read'],
      ['policy', 'delete', undefined],
    ]);
  });

  it('deletes the objects of a removed route, queues only if empty under Retain', () => {
    const result = plan(compile([], []), asActual(desired));
    const queues = result.items.filter((item) => item.kind === 'queue');
    expect(queues.every((item) => item.action === 'delete' && item.ifEmpty)).toBe(true);
    expect(result.items.filter((item) => item.kind === 'vhost')).toEqual([]);
    // deletes start with permissions and users, and queues precede their exchanges
    expect(result.items[0]!.kind).toBe('permission');
    const order = result.items.map((item) => item.kind);
    expect(order.lastIndexOf('queue')).toBeLessThan(order.indexOf('exchange'));
  });

  it('retains the whole group of a removed route while one of its queues holds messages', () => {
    const actual = asActual(desired);
    (actual.queues.find((queue) => queue.name === `${Q}.dlq`) as QueueObject).messages = 3;
    const result = plan(compile([], []), actual);
    const group = result.items.filter((item) => item.group === Q);
    // The route is gone, so the binding bringing its events in goes; the rest of the group stays.
    const inflow = group.filter((item) => item.action === 'delete');
    expect(inflow.map((item) => item.name)).toEqual([`user.events -> ${Q} (user.created)`]);
    const retained = group.filter((item) => item.action === 'retain');
    expect(retained.length).toBe(group.length - 1);
    expect(retained.map((item) => item.kind)).toEqual(
      expect.arrayContaining(['queue', 'exchange', 'binding']),
    );
    expect(retained[0]!.reason).toContain(`"${Q}.dlq" holds 3 messages`);
    // the shared exchange still goes
    expect(result.items.find((item) => item.name === 'user.events')!.action).toBe('delete');
  });

  it("keeps the consumer's user and permission while its retained queue holds messages; the source's user goes", () => {
    const actual = asActual(desired);
    (actual.queues.find((queue) => queue.name === Q) as QueueObject).messages = 2;
    const access = plan(compile([], []), actual).items.filter(
      (item) => item.kind === 'user' || item.kind === 'permission',
    );
    expect(access.map((item) => [item.kind, item.name, item.action]).sort()).toEqual([
      ['permission', 'warren-notification-service', 'retain'],
      ['permission', 'warren-user-service', 'delete'],
      ['user', 'warren-notification-service', 'retain'],
      ['user', 'warren-user-service', 'delete'],
    ]);
    expect(access.find((item) => item.action === 'retain')!.reason).toContain(
      `"${Q}" holds 2 messages`,
    );
    // Drained, the user goes with the rest.
    (actual.queues.find((queue) => queue.name === Q) as QueueObject).messages = 0;
    expect(
      plan(compile([], []), actual).items.filter(
        (item) => item.kind === 'user' && item.action !== 'delete',
      ),
    ).toEqual([]);
  });

  it('deletes a non-empty queue when its route asked for deletionPolicy Delete', () => {
    const actual = asActual(desired);
    (actual.queues.find((queue) => queue.name === Q) as QueueObject).messages = 5;
    const result = plan(compile([], []), actual, {
      removedGroupPolicies: new Map([[groupKey('/', Q), 'Delete']]),
    });
    const queue = result.items.find((item) => item.kind === 'queue' && item.name === Q)!;
    expect(queue).toMatchObject({ action: 'delete', ifEmpty: false });
  });
});

describe('routeStatuses', () => {
  const two = compile(
    [route('a'), route('b'), route('c', { exchange: { name: 'order.events' } })],
    [],
  );
  const statusOf = (actual: BrokerState) =>
    new Map(
      routeStatuses(two.routes, plan(two, actual), actual).map((s) => [s.route.split('/')[1], s]),
    );

  it('is Ready for every route when the broker matches', () => {
    const statuses = statusOf(asActual(two));
    expect([...statuses.values()].map((s) => s.readiness)).toEqual(['Ready', 'Ready', 'Ready']);
  });

  it("names what is missing: a route's own queue for that route only, a shared exchange for every route on it", () => {
    const actual = asActual(two);
    actual.queues = actual.queues.filter((q) => q.name !== 'notification-service.a');
    actual.exchanges = actual.exchanges.filter((e) => e.name !== 'user.events');
    const statuses = statusOf(actual);
    expect(statuses.get('a')!.pending.map((i) => i.name)).toEqual([
      'user.events',
      'notification-service.a',
    ]);
    expect(statuses.get('b')!.pending.map((i) => i.name)).toEqual(['user.events']);
    expect(statuses.get('c')!.readiness).toBe('Ready');
  });
});
