/**
 * The status an EventRoute gets from one reconcile: pure, from what the compiler, the planner
 * and the applier found. Ready always reflects the broker as read back, never the wish.
 */
import type { EventRoute, EventRouteStatus } from '@warren/crds';
import type { RouteObjects } from '../engine/model';
import type { PlanItem } from '../engine/plan';
import type { RouteStatus } from '../engine/status';
import { AUTOSCALING_CONDITION } from '../autoscaling/keda';
import {
  findCondition,
  setConditions,
  type Condition,
  type ConditionInput,
} from '../kube/conditions';
import { statusChanged } from '../kube/status';
import type { RouteAutoscaling } from './autoscaling';
import type { Rejection } from './resilient-compile';

/** Every reason a condition can carry (documented in the README). */
export const REASONS = {
  synced: 'Synced',
  reconciling: 'Reconciling',
  brokerObjectMissing: 'BrokerObjectMissing',
  brokerUnreachable: 'BrokerUnreachable',
  brokerNodeDown: 'BrokerNodeDown',
  applyFailed: 'ApplyFailed',
  notPossibleInPlace: 'ChangeNotPossibleInPlace',
  retryPolicyNotFound: 'RetryPolicyNotFound',
  invalidRoute: 'InvalidRoute',
  conflict: 'Conflict',
  paused: 'Paused',
  deleting: 'Deleting',
} as const;

export interface RouteOutcome {
  rejection?: Rejection;
  paused?: boolean;
  /** The broker could not be read or written at all. */
  brokerError?: string;
  objects?: RouteObjects;
  /** Read-back status before applying (pending = what was missing or different). */
  readBack?: RouteStatus;
  /** Items of this route that failed to apply, with the broker's error. */
  failed?: { item: PlanItem; error: string }[];
  /** Its KEDA autoscaling, when spec.consumer.autoscaling is set. */
  autoscaling?: RouteAutoscaling;
  /** Cluster nodes the broker reports not running (the route works on the others). */
  nodesDown?: string[];
  /** The Ready message of a drift repair under way (what is missing), when there is one. */
  repairing?: string;
}

const describe = (item: PlanItem) => `${item.kind} ${item.name}`;

function conditionsFor(outcome: RouteOutcome): ConditionInput[] {
  const c = (
    type: string,
    status: 'True' | 'False' | 'Unknown',
    reason: string,
    message: string,
  ): ConditionInput => ({
    type,
    status,
    reason,
    message,
  });
  if (outcome.rejection) {
    const reason =
      outcome.rejection.reason === 'Conflict'
        ? REASONS.conflict
        : /RetryPolicy .* not found/.test(outcome.rejection.message)
          ? REASONS.retryPolicyNotFound
          : REASONS.invalidRoute;
    return [
      c('Ready', 'False', reason, outcome.rejection.message),
      c('Reconciling', 'False', reason, 'waiting for the resources to change'),
      c('Degraded', 'False', reason, ''),
      c('Stalled', 'True', reason, outcome.rejection.message),
    ];
  }
  if (outcome.brokerError) {
    return [
      c('Ready', 'Unknown', REASONS.brokerUnreachable, outcome.brokerError),
      c('Reconciling', 'True', REASONS.brokerUnreachable, 'retrying with backoff'),
      c('Degraded', 'True', REASONS.brokerUnreachable, outcome.brokerError),
      c('Stalled', 'False', REASONS.brokerUnreachable, ''),
    ];
  }
  const pending = outcome.readBack?.pending ?? [];
  const impossible = pending.filter((item) => item.action === 'impossible');
  const failed = outcome.failed ?? [];
  const notPossible = impossible
    .map(
      (item) =>
        `${describe(item)}: ${item.reason ?? item.changes.map((change) => change.field).join(', ')}`,
    )
    .join('; ');
  if (outcome.paused) {
    const message =
      pending.length > 0
        ? `paused; differs from the spec: ${pending.map(describe).join(', ')}`
        : 'paused';
    return [
      c(
        'Ready',
        pending.length > 0 ? 'False' : 'True',
        pending.length > 0 ? REASONS.paused : REASONS.synced,
        message,
      ),
      c(
        'Reconciling',
        'False',
        REASONS.paused,
        `annotation warren.dev/paused is set: no broker writes`,
      ),
      c('Degraded', 'False', REASONS.paused, ''),
      c('Stalled', 'False', REASONS.paused, ''),
    ];
  }
  if (impossible.length > 0) {
    return [
      c('Ready', 'False', REASONS.notPossibleInPlace, notPossible),
      c('Reconciling', 'False', REASONS.notPossibleInPlace, 'the rest of the route is applied'),
      c('Degraded', 'True', REASONS.notPossibleInPlace, notPossible),
      c(
        'Stalled',
        'True',
        REASONS.notPossibleInPlace,
        `${notPossible}. Revert the field, or delete the queue yourself to recreate it`,
      ),
    ];
  }
  if (failed.length > 0) {
    const message = failed.map((f) => `${describe(f.item)}: ${f.error}`).join('; ');
    return [
      // A failed drift repair stays BrokerObjectMissing: what is missing is still why it is not
      // Ready, and the next pass can tell what more it finds gone (and says Repaired at the end).
      outcome.repairing
        ? c('Ready', 'False', REASONS.brokerObjectMissing, outcome.repairing)
        : c('Ready', 'False', REASONS.applyFailed, message),
      c('Reconciling', 'True', REASONS.applyFailed, 'retrying with backoff'),
      c('Degraded', 'True', REASONS.applyFailed, message),
      c('Stalled', 'False', REASONS.applyFailed, ''),
    ];
  }
  const count = outcome.objects?.objects.length ?? 0;
  const down = outcome.nodesDown ?? [];
  return [
    c('Ready', 'True', REASONS.synced, `${count} broker objects match the spec`),
    c('Reconciling', 'False', REASONS.synced, ''),
    down.length > 0
      ? c(
          'Degraded',
          'True',
          REASONS.brokerNodeDown,
          `RabbitMQ ${down.length === 1 ? 'node' : 'nodes'} ${down.join(', ')} down: the cluster is short, its other nodes serve the route`,
        )
      : c('Degraded', 'False', REASONS.synced, ''),
    c('Stalled', 'False', REASONS.synced, ''),
  ];
}

const pick = <K extends string>(key: K, value: number | undefined) =>
  value === undefined ? {} : ({ [key]: value } as Record<K, number>);

/** Status to write for a route; `previous` keeps transition times of unchanged conditions. */
export function routeStatusFor(
  route: EventRoute,
  outcome: RouteOutcome,
  now: Date,
): EventRouteStatus {
  const previous = (route.status?.conditions ?? []) as Condition[];
  const conditions = setConditions(
    // The Autoscaling condition goes with spec.consumer.autoscaling.
    outcome.autoscaling ? previous : previous.filter((c) => c.type !== AUTOSCALING_CONDITION),
    [...conditionsFor(outcome), ...(outcome.autoscaling ? [outcome.autoscaling.condition] : [])],
    route.metadata.generation,
    now,
  );
  const objects = outcome.objects;
  const readBack = outcome.readBack;
  return {
    observedGeneration: route.metadata.generation,
    conditions,
    ...(objects && {
      queue: objects.queue,
      vhost: objects.vhost,
      brokerObjects: objects.objects.map((object) => ({ kind: object.kind, name: object.name })),
    }),
    // The broker reports figures ~5 s late and now and then not at all: keep the last known ones.
    ...pick('depth', readBack?.depth ?? route.status?.depth),
    ...pick('consumers', readBack?.consumers ?? route.status?.consumers),
    ...pick('deadLetterDepth', readBack?.deadLetterDepth ?? route.status?.deadLetterDepth),
    ...(outcome.autoscaling?.scaledObject && { scaledObject: outcome.autoscaling.scaledObject }),
    ...pickTime(outcome.brokerError ? route.status?.brokerReadAt : now.toISOString()),
  };
}

const pickTime = (brokerReadAt: string | undefined) => (brokerReadAt ? { brokerReadAt } : {});

/** How often an unchanged status gets a fresh `brokerReadAt` (one write per route per period). */
export const BROKER_READ_REFRESH_MS = 10 * 60_000;

/**
 * `next` with the previous `brokerReadAt` when nothing else changed and that time is recent:
 * an idle resync writes nothing, and the status still says when the broker was last read.
 */
export function withReadTime(
  previous: EventRouteStatus | undefined,
  next: EventRouteStatus,
  now: Date,
): EventRouteStatus {
  const before = previous?.brokerReadAt;
  if (before === undefined || now.getTime() - Date.parse(before) >= BROKER_READ_REFRESH_MS)
    return next;
  const kept = { ...next, brokerReadAt: before };
  return statusChanged(previous, kept) ? next : kept;
}

/** Conditions that say the objects are about to be repaired: written before the repair. */
/** The Ready message of a drift repair under way, or undefined when the route is not in one. */
export function repairUnderWay(status: EventRouteStatus | undefined): string | undefined {
  const ready = findCondition(status?.conditions as Condition[] | undefined, 'Ready');
  return ready?.status === 'False' && ready.reason === REASONS.brokerObjectMissing
    ? ready.message
    : undefined;
}

export function driftStatusFor(
  route: EventRoute,
  missing: PlanItem[],
  now: Date,
): EventRouteStatus {
  const message = `missing on the broker, recreating: ${missing.map(describe).join(', ')}`;
  const conditions = setConditions(
    route.status?.conditions as Condition[] | undefined,
    [
      { type: 'Ready', status: 'False', reason: REASONS.brokerObjectMissing, message },
      { type: 'Reconciling', status: 'True', reason: REASONS.brokerObjectMissing, message },
    ],
    route.metadata.generation,
    now,
  );
  return {
    ...route.status,
    observedGeneration: route.metadata.generation,
    conditions,
    brokerReadAt: now.toISOString(),
  };
}
