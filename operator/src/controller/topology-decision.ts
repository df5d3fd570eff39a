/**
 * The topology reconcile's decisions, pure. `decideTopology` takes what the caches and the
 * broker show (the observation) and says what to write before and during the apply: the
 * finalizers to add or drop, the drift to announce, the plan (password rotations included).
 * `settleTopology` then turns the applier's result (or the broker being unreachable) into each
 * route's status and Events, the RetryPolicy statuses, and the finalizers that may go. The
 * controller observes, calls these two, and carries out what they return.
 */
import type { EventRoute, EventRouteStatus, RetryPolicy } from '@warren/crds';
import { resourceKey } from '@warren/crds/core';
import type { BrokerState, DesiredTopology } from '../engine/model';
import { consumerQueueName, serviceUserName } from '../engine/naming';
import { groupKey, plan, summarize, type Plan, type PlanItem } from '../engine/plan';
import { routeStatuses, type RouteStatus } from '../engine/status';
import { findCondition, type Condition } from '../kube/conditions';
import type { EventType } from '../kube/events';
import { compositeKey } from '../util/keys';
import { FINALIZER, isTrue, PAUSED_ANNOTATION, UNMANAGED_ANNOTATION } from './annotations';
import type { DeletedObject } from './broker-events';
import type { ResilientCompileResult } from './resilient-compile';
import { driftStatusFor, repairUnderWay } from './route-status';
import { servicePlacements, type ServicePlacement } from './service-outputs';

export interface TopologyObservation {
  /** Every EventRoute in the cache. */
  routes: readonly EventRoute[];
  policies: readonly RetryPolicy[];
  /** `compileResilient` of the live routes (`liveRoutes(routes)`). */
  compiled: ResilientCompileResult;
  /**
   * What the broker has of Warren's (and which cluster nodes it reports down), or why it could
   * not be read.
   */
  broker: { actual: BrokerState; nodesDown?: string[] } | { unreachable: string };
  /** Passwords of service users, from the Secrets the operator wrote before. */
  passwords: ReadonlyMap<string, string>;
  defaultVhost: string;
  finalizerTimeoutMs: number;
  now: Date;
}

export interface RecordedEvent {
  type: EventType;
  reason: string;
  message: string;
}

export type FinalizerAction =
  | { route: EventRoute; action: 'add' }
  | { route: EventRoute; action: 'remove'; event: RecordedEvent };

/** A status to write, and the Event that announces a change of Ready. */
export interface StatusWrite {
  route: EventRoute;
  status: EventRouteStatus;
  event?: RecordedEvent;
}

/** Objects a Ready route had that are gone: Ready goes False (and is announced) before the repair. */
export interface DriftRepair extends StatusWrite {
  missing: PlanItem[];
  event: RecordedEvent;
}

export interface TopologyDecision {
  /** Managed routes not being deleted (paused ones included). */
  live: EventRoute[];
  /** Routes being deleted that still carry the finalizer. */
  deleting: EventRoute[];
  paused: Set<string>;
  /** First: the finalizer added to live routes, dropped from released ones. */
  finalizers: FinalizerAction[];
  /** Why the broker could not be read; nothing below is then written to it. */
  unreachable?: string;
  /** Written before the apply. */
  drift: DriftRepair[];
  /** What to apply: the plan without what paused and released routes own. */
  plan: Plan;
  /** Service users whose password the plan rotates: every Secret that held it is gone. */
  rotated: string[];
  /** Broker users the plan keeps though no route needs them (a retained queue of theirs holds messages). */
  keptUsers: Set<string>;
  /** Each compiled route's read-back (what was missing or different before the apply). */
  readBack: Map<string, RouteStatus>;
  /** The ConfigMaps and Secrets services read, by namespace. */
  placements: ServicePlacement[];
}

export const vhostOf = (route: EventRoute, defaultVhost: string) =>
  route.spec.vhost ?? defaultVhost;
const queueOf = (route: EventRoute) =>
  route.spec.consumer.queue ?? consumerQueueName(route.spec.consumer.service, route.metadata.name);
export const routeGroup = (route: EventRoute, defaultVhost: string) =>
  groupKey(vhostOf(route, defaultVhost), queueOf(route));
export const itemGroup = (item: PlanItem) =>
  item.group === null ? undefined : groupKey(item.vhost, item.group);
export const describe = (items: readonly PlanItem[]) =>
  items.map((item) => `${item.kind} ${item.name}`).join(', ');

interface RouteSets {
  live: EventRoute[];
  deleting: EventRoute[];
  released: EventRoute[];
  paused: EventRoute[];
}

function sortRoutes(routes: readonly EventRoute[]): RouteSets {
  const sets: RouteSets = { live: [], deleting: [], released: [], paused: [] };
  for (const route of routes) {
    const annotations = route.metadata.annotations ?? {};
    if (isTrue(annotations[UNMANAGED_ANNOTATION])) sets.released.push(route);
    else if (route.metadata.deletionTimestamp) {
      if (hasFinalizer(route)) sets.deleting.push(route);
    } else {
      sets.live.push(route);
      if (isTrue(annotations[PAUSED_ANNOTATION])) sets.paused.push(route);
    }
  }
  return sets;
}

const hasFinalizer = (route: EventRoute) => route.metadata.finalizers?.includes(FINALIZER) ?? false;

/** The routes to compile: managed and not being deleted. */
export const liveRoutes = (routes: readonly EventRoute[]) => sortRoutes(routes).live;

/** Every vhost the reconcile must read back: desired ones, and those of routes going away. */
export function vhostsToRead(
  routes: readonly EventRoute[],
  desired: DesiredTopology,
  defaultVhost: string,
): Set<string> {
  const { deleting, released } = sortRoutes(routes);
  return new Set([
    defaultVhost,
    ...desired.vhosts.map((v) => v.vhost),
    ...[...deleting, ...released].map((route) => vhostOf(route, defaultVhost)),
  ]);
}

function finalizerChanges(sets: RouteSets): FinalizerAction[] {
  return [
    ...sets.released.filter(hasFinalizer).map((route): FinalizerAction => ({
      route,
      action: 'remove',
      event: {
        type: 'Normal',
        reason: 'Released',
        message:
          'annotation warren.dev/unmanaged: the broker objects are kept and no longer managed',
      },
    })),
    ...sets.live
      .filter((route) => !hasFinalizer(route))
      .map((route): FinalizerAction => ({ route, action: 'add' })),
  ];
}

/**
 * The part of the full plan the reconcile may carry out. Paused routes' groups get no writes,
 * released ones no deletes (nor their event exchanges); a group is deleted from only when a live
 * route changed it or a route being deleted owned it, so groups no route claims are left alone.
 */
function applicable(
  full: Plan,
  sets: RouteSets,
  desired: DesiredTopology,
  defaultVhost: string,
): PlanItem[] {
  const untouchable = new Set<string>();
  const untouchableExchanges = new Set<string>();
  for (const route of [...sets.released, ...sets.paused]) {
    untouchable.add(routeGroup(route, defaultVhost));
    untouchableExchanges.add(compositeKey(vhostOf(route, defaultVhost), route.spec.exchange.name));
  }
  const claimed = new Set([
    ...desired.routes.map((r) => groupKey(r.vhost, r.queue)),
    ...sets.deleting.map((route) => routeGroup(route, defaultVhost)),
  ]);
  return full.items.filter((item) => {
    const group = itemGroup(item);
    if (item.action === 'delete' && group !== undefined && !claimed.has(group)) return false;
    if (group !== undefined && untouchable.has(group)) return false;
    return !(
      item.kind === 'exchange' && untouchableExchanges.has(compositeKey(item.vhost, item.name))
    );
  });
}

/** A user whose Secrets are all gone gets a new password, so the lost one stops working. */
function withRotations(items: PlanItem[], rotated: ReadonlySet<string>): PlanItem[] {
  return items.map((item) =>
    item.kind === 'user' && item.action === 'unchanged' && rotated.has(item.name)
      ? {
          ...item,
          action: 'update',
          changes: [{ field: 'password', from: '(lost)', to: '(new)' }],
          reason: 'every credentials Secret of the user is gone: its password is rotated',
        }
      : item,
  );
}

/**
 * The service users and permissions to recreate that Warren made before (a credentials Secret
 * holds their password), by user: they are drift of every route of those services.
 */
function lostAccess(full: Plan, passwords: ReadonlyMap<string, string>): Map<string, PlanItem[]> {
  const lost = new Map<string, PlanItem[]>();
  for (const item of full.items) {
    if (item.action !== 'create' || (item.kind !== 'user' && item.kind !== 'permission')) continue;
    // A permission's plan name is its user.
    if (!passwords.has(item.name)) continue;
    lost.set(item.name, [...(lost.get(item.name) ?? []), item]);
  }
  return lost;
}

/** The broker users a route needs: its source's and its consumer's. */
export const routeServiceUsers = (route: EventRoute, vhost: string) => [
  ...new Set(
    [route.spec.source.service, route.spec.consumer.service].map((service) =>
      serviceUserName(service, vhost),
    ),
  ),
];

const accessOf = (route: EventRoute, vhost: string, lost: ReadonlyMap<string, PlanItem[]>) =>
  routeServiceUsers(route, vhost).flatMap(
    (user) => lost.get(user)?.filter((item) => item.vhost === vhost) ?? [],
  );

/**
 * Drift is an object the route had (its last status lists it, or a user Warren made for its
 * services) that is gone; a new one is progress. It is announced when the route was Ready, and
 * again while a repair is under way when more is found missing than the status already says:
 * the read-back is not a snapshot (queues and bindings are separate requests), so a pass that
 * reads during a deletion can see the binding gone and the queue still there, and the next
 * pass must still name the queue.
 */
function driftOf(
  route: EventRoute,
  readBack: RouteStatus | undefined,
  access: readonly PlanItem[],
  now: Date,
): DriftRepair | undefined {
  const had = objectsHad(route);
  const missing = [
    ...(readBack?.pending.filter(
      (item) => item.action === 'create' && had.has(compositeKey(item.kind, item.name)),
    ) ?? []),
    ...access,
  ];
  return announcement(route, missing, now);
}

const objectsHad = (route: EventRoute) =>
  new Set((route.status?.brokerObjects ?? []).map((o) => compositeKey(o.kind, o.name)));

/** The status and Event that announce `missing`, unless there is nothing new to say. */
function announcement(route: EventRoute, missing: PlanItem[], now: Date): DriftRepair | undefined {
  const wasReady =
    findCondition(route.status?.conditions as Condition[] | undefined, 'Ready')?.status === 'True';
  const repairing = repairUnderWay(route.status);
  if (missing.length === 0 || !(wasReady || repairing !== undefined)) return undefined;
  const status = driftStatusFor(route, missing, now);
  // A repair being retried for what the status already names is not news.
  if (repairing !== undefined && repairUnderWay(status) === repairing) return undefined;
  return {
    route,
    missing,
    status,
    event: {
      type: 'Warning',
      reason: 'DriftDetected',
      message: `missing on the broker: ${describe(missing)}; recreating`,
    },
  };
}

/**
 * Drift from the broker's deletion events alone, before any read-back: at 5,000 routes a
 * reconcile reads for about 20 s, and the event is already the broker's word that the object is
 * gone. The reconcile the events also trigger repairs, and finds the status already saying so.
 */
export function driftFromEvents(
  routes: readonly EventRoute[],
  deleted: ReadonlyMap<string, readonly DeletedObject[]>,
  now: Date,
): DriftRepair[] {
  const sets = sortRoutes(routes);
  const paused = new Set(sets.paused.map(resourceKey));
  return sets.live.flatMap((route) => {
    const key = resourceKey(route);
    const gone = deleted.get(key);
    if (!gone || paused.has(key)) return [];
    const had = objectsHad(route);
    const missing = gone
      .filter((object) => had.has(compositeKey(object.kind, object.name)))
      .map((object): PlanItem => ({ action: 'create', ...object, group: null, changes: [] }));
    const repair = announcement(route, missing, now);
    return repair ? [repair] : [];
  });
}

export function decideTopology(observation: TopologyObservation): TopologyDecision {
  const { compiled, defaultVhost, now } = observation;
  const sets = sortRoutes(observation.routes);
  const paused = new Set(sets.paused.map(resourceKey));
  const placements = servicePlacements(
    sets.live.filter((route) => !compiled.rejected.has(resourceKey(route))),
    compiled.desired.services,
    (route) => vhostOf(route, defaultVhost),
  );
  const base = {
    live: sets.live,
    deleting: sets.deleting,
    paused,
    finalizers: finalizerChanges(sets),
    placements,
  };
  if ('unreachable' in observation.broker) {
    return {
      ...base,
      unreachable: observation.broker.unreachable,
      drift: [],
      plan: summarize([]),
      rotated: [],
      keptUsers: new Set(),
      readBack: new Map(),
    };
  }
  const { actual } = observation.broker;
  const full = plan(compiled.desired, actual, {
    removedGroupPolicies: new Map(
      sets.deleting.map(
        (route) =>
          [routeGroup(route, defaultVhost), route.spec.deletionPolicy ?? 'Retain'] as const,
      ),
    ),
  });
  const readBack = new Map(
    routeStatuses(compiled.desired.routes, full, actual).map((status) => [status.route, status]),
  );
  const existingUsers = new Set(actual.users.map((user) => user.name));
  const rotated = [
    ...new Set(
      placements
        .map(({ document }) => serviceUserName(document.service, document.vhost))
        .filter((user) => !observation.passwords.has(user) && existingUsers.has(user)),
    ),
  ];
  const lost = lostAccess(full, observation.passwords);
  const drift = sets.live
    .filter((route) => !paused.has(resourceKey(route)))
    .map((route) =>
      driftOf(
        route,
        readBack.get(resourceKey(route)),
        accessOf(route, vhostOf(route, defaultVhost), lost),
        now,
      ),
    )
    .filter((repair): repair is DriftRepair => repair !== undefined);
  const applied = summarize(
    withRotations(applicable(full, sets, compiled.desired, defaultVhost), new Set(rotated)),
  );
  return {
    ...base,
    drift,
    plan: applied,
    rotated,
    keptUsers: new Set(
      applied.items
        .filter((item) => item.kind === 'user' && item.action === 'retain')
        .map((item) => item.name),
    ),
    readBack,
  };
}
