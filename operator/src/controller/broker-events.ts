/**
 * Which of the broker's own events (the rabbitmq_event_exchange plugin's `amq.rabbitmq.event`)
 * concern Warren's objects: pure. The index is built from the desired topology of the last
 * reconcile, so an object Warren deletes itself (no longer desired) never triggers a repair,
 * and nothing of other tenants of the broker does.
 */
import type { BrokerState, RouteObjects } from '../engine/model';
import { compositeKey as key } from '../util/keys';

/** The routing keys subscribed to: the deletions that can take a Warren object away. */
export const DELETION_EVENTS = [
  'queue.deleted',
  'exchange.deleted',
  'binding.deleted',
  'user.deleted',
  'permission.deleted',
  'vhost.deleted',
] as const;

export interface BrokerEvent {
  /** The routing key, such as `queue.deleted`. */
  type: string;
  /** The event's headers (`name`, `vhost`, `destination_name`, `user`, ...). */
  headers: Readonly<Record<string, unknown>>;
}

/** Keys of the objects Warren wants on the broker. */
export type BrokerEventIndex = ReadonlySet<string>;

export function brokerEventIndex(desired: BrokerState): BrokerEventIndex {
  return new Set([
    ...desired.vhosts.map((v) => key('vhost', v.vhost)),
    ...desired.queues.map((q) => key('queue', q.vhost, q.name)),
    ...desired.exchanges.map((e) => key('exchange', e.vhost, e.name)),
    ...desired.bindings.map((b) => key('binding', b.vhost, b.source, b.destination)),
    ...desired.users.map((u) => key('user', u.name)),
    ...desired.permissions.map((p) => key('permission', p.vhost, p.user)),
  ]);
}

/** Header values arrive as strings or, for some brokers and types, as bytes. */
const text = (value: unknown): string =>
  typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : '';

/** The index key an event is about, or undefined for an event of another kind. */
export function eventKey(event: BrokerEvent): string | undefined {
  const h = (name: string) => text(event.headers[name]);
  switch (event.type) {
    case 'queue.deleted':
      return key('queue', h('vhost'), h('name'));
    case 'exchange.deleted':
      return key('exchange', h('vhost'), h('name'));
    case 'binding.deleted':
      return h('destination_kind') === 'queue'
        ? key('binding', h('vhost'), h('source_name'), h('destination_name'))
        : undefined;
    case 'user.deleted':
      return key('user', h('name'));
    case 'permission.deleted':
      return key('permission', h('vhost'), h('user'));
    case 'vhost.deleted':
      return key('vhost', h('name'));
    default:
      return undefined;
  }
}

/** True when the event takes away an object Warren wants: the topology needs a reconcile now. */
export function concernsWarren(event: BrokerEvent, index: BrokerEventIndex): boolean {
  const found = eventKey(event);
  return found !== undefined && index.has(found);
}

/** An object of a route that an event says is gone, named as the plan names it. */
export interface DeletedObject {
  kind: 'queue' | 'exchange' | 'binding';
  vhost: string;
  name: string;
}

/** The object a queue, exchange or binding deletion names (users and permissions are services'). */
export function deletedObject(event: BrokerEvent): DeletedObject | undefined {
  const h = (name: string) => text(event.headers[name]);
  switch (event.type) {
    case 'queue.deleted':
      return { kind: 'queue', vhost: h('vhost'), name: h('name') };
    case 'exchange.deleted':
      return { kind: 'exchange', vhost: h('vhost'), name: h('name') };
    case 'binding.deleted':
      return h('destination_kind') === 'queue'
        ? {
            kind: 'binding',
            vhost: h('vhost'),
            name: `${h('source_name')} -> ${h('destination_name')} (${h('routing_key')})`,
          }
        : undefined;
    default:
      return undefined;
  }
}

/** Route keys by the objects they own: an exchange belongs to every route that uses it. */
export type RouteObjectIndex = ReadonlyMap<string, readonly string[]>;

export function routeObjectIndex(routes: readonly RouteObjects[]): RouteObjectIndex {
  const index = new Map<string, string[]>();
  for (const route of routes)
    for (const object of route.objects) {
      const found = key(object.kind, route.vhost, object.name);
      const owners = index.get(found);
      if (owners) owners.push(route.route);
      else index.set(found, [route.route]);
    }
  return index;
}

/** What each route lost, by route key, from a burst of deletion events. */
export function deletedByRoute(
  events: readonly BrokerEvent[],
  index: RouteObjectIndex,
): Map<string, DeletedObject[]> {
  const byRoute = new Map<string, DeletedObject[]>();
  const seen = new Set<string>();
  for (const event of events) {
    const object = deletedObject(event);
    if (!object) continue;
    const objectKey = key(object.kind, object.vhost, object.name);
    if (seen.has(objectKey)) continue;
    seen.add(objectKey);
    for (const route of index.get(objectKey) ?? [])
      byRoute.set(route, [...(byRoute.get(route) ?? []), object]);
  }
  return byRoute;
}
