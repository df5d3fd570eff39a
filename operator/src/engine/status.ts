/** Per-route status from a plan and the read-back state: what `warren status` and EventRoute status show. */
import type { BrokerState, RouteObjects } from './model';
import type { Plan, PlanItem } from './plan';

export type RouteReadiness = 'Ready' | 'Drifted' | 'Blocked';

export interface RouteStatus {
  route: string;
  vhost: string;
  queue: string;
  readiness: RouteReadiness;
  /** Plan items still pending for the route's objects (what is missing or different). */
  pending: PlanItem[];
  depth?: number;
  consumers?: number;
  deadLetterDepth?: number;
  retryDepth?: number;
}

export function routeStatuses(
  routes: readonly RouteObjects[],
  plan: Plan,
  actual: BrokerState,
): RouteStatus[] {
  const queues = new Map(
    actual.queues.map((queue) => [`${queue.vhost}\u0000${queue.name}`, queue]),
  );
  const queueOf = (vhost: string, name: string | null) =>
    name === null ? undefined : queues.get(`${vhost}\u0000${name}`);
  return routes.map((route) => {
    const exchanges = new Set(
      route.objects.filter((o) => o.kind === 'exchange').map((o) => o.name),
    );
    const pending = plan.items.filter(
      (item) =>
        item.vhost === route.vhost &&
        item.action !== 'unchanged' &&
        item.action !== 'retain' &&
        (item.group === route.queue || (item.kind === 'exchange' && exchanges.has(item.name))),
    );
    const queue = queueOf(route.vhost, route.queue);
    const retryDepths = route.retryQueues.map((name) => queueOf(route.vhost, name)?.messages);
    return {
      route: route.route,
      vhost: route.vhost,
      queue: route.queue,
      readiness: pending.some((item) => item.action === 'impossible')
        ? 'Blocked'
        : pending.length > 0
          ? 'Drifted'
          : 'Ready',
      pending,
      depth: queue?.messages,
      consumers: queue?.consumers,
      deadLetterDepth: queueOf(route.vhost, route.deadLetterQueue)?.messages,
      retryDepth: retryDepths.some((depth) => depth !== undefined)
        ? retryDepths.reduce<number>((sum, depth) => sum + (depth ?? 0), 0)
        : undefined,
    };
  });
}
