import type { ServiceTopology } from '@warren/contracts';

/** One broker object the service relies on, with the route that should have declared it. */
export interface RequiredObject {
  kind: 'exchange' | 'queue';
  name: string;
  /** EventRoutes (`namespace/name`) whose compilation declares it. */
  routes: string[];
  purpose: string;
}

/**
 * Every exchange and queue the service uses directly, and so has a permission on: exchanges it
 * publishes to (write), queues it consumes (read), the retry and dead-letter exchanges of those
 * queues (write). The TTL retry queues and the dead-letter queue behind those exchanges are the
 * operator's to keep (drift repair): the service has no permission on them, and from RabbitMQ
 * 4.2.6 on a passive declare without one is refused (403). Pure, so it is tested without a broker.
 */
export function requiredObjects(topology: ServiceTopology): RequiredObject[] {
  const byKey = new Map<string, RequiredObject>();
  const add = (kind: RequiredObject['kind'], name: string, routes: string[], purpose: string) => {
    const key = `${kind}:${name}`;
    const existing = byKey.get(key);
    if (existing) {
      for (const route of routes) if (!existing.routes.includes(route)) existing.routes.push(route);
    } else {
      byKey.set(key, { kind, name, routes: [...routes], purpose });
    }
  };
  for (const target of topology.publishes) {
    add('exchange', target.exchange, target.routes, `publishing ${target.eventType}`);
  }
  for (const consumer of topology.consumes) {
    const routes = [consumer.route];
    add('queue', consumer.queue, routes, 'consuming');
    if (consumer.retry.exchange) {
      add('exchange', consumer.retry.exchange, routes, `retries of ${consumer.queue}`);
    }
    if (consumer.deadLetter) {
      add('exchange', consumer.deadLetter.exchange, routes, `dead letters of ${consumer.queue}`);
    }
  }
  return [...byKey.values()];
}

export function describeMissing(object: RequiredObject, vhost: string): string {
  const routes = object.routes.length > 0 ? object.routes.join(', ') : '(no route recorded)';
  return `${object.kind} "${object.name}" (${object.purpose}) does not exist in vhost "${vhost}"; it should be declared by EventRoute ${routes}: is the route applied and reconciled by the operator?`;
}
