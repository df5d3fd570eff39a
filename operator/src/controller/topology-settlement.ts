/**
 * The second half of the topology reconcile's decision, pure: what the applier's result (or
 * the broker being unreachable) means for each route's status and Events, for the RetryPolicy
 * statuses, and for the finalizers of routes being deleted.
 */
import type { EventRoute, RetryPolicy, RetryPolicyStatus } from '@warren/crds';
import { formatDuration, resourceKey } from '@warren/crds/core';
import { emptyApplyResult, type ApplyResult } from '../broker/apply';
import { retryDelays } from '../engine/delays';
import type { RouteObjects } from '../engine/model';
import { groupKey } from '../engine/plan';
import { findCondition, setConditions, type Condition } from '../kube/conditions';
import { statusChanged } from '../kube/status';
import { compositeKey, groupBy } from '../util/keys';
import { FORCE_FINALIZE_ANNOTATION, isTrue } from './annotations';
import type { RouteAutoscaling } from './autoscaling';
import {
  REASONS,
  repairUnderWay,
  routeStatusFor,
  withReadTime,
  type RouteOutcome,
} from './route-status';
import {
  describe,
  itemGroup,
  routeGroup,
  routeServiceUsers,
  type FinalizerAction,
  type RecordedEvent,
  type StatusWrite,
  type TopologyDecision,
  type TopologyObservation,
} from './topology-decision';

export interface TopologySettlement {
  statuses: StatusWrite[];
  policyStatuses: { policy: RetryPolicy; status: RetryPolicyStatus }[];
  /** Finalizers of deleted routes whose broker objects are dealt with. */
  finalizers: FinalizerAction[];
  /** When routes being deleted wait for an unreachable broker: when to look again. */
  recheckAfterMs?: number;
}

/** The status of each live route, written only where it changes what the status says. */
function statusWrites(
  observation: TopologyObservation,
  decision: TopologyDecision,
  failed: ApplyResult['failed'],
  autoscaling: ReadonlyMap<string, RouteAutoscaling>,
): StatusWrite[] {
  const { compiled, now } = observation;
  const objects = new Map(compiled.desired.routes.map((o) => [o.route, o]));
  const failedByGroup = groupBy(failed, (failure) => itemGroup(failure.item) ?? '');
  // A user or permission the broker refused fails every route of its service: the service
  // cannot publish or consume what the route declares (a permission's plan name is its user).
  const failedByUser = groupBy(
    failed.filter(({ item }) => item.kind === 'user' || item.kind === 'permission'),
    ({ item }) => compositeKey(item.vhost, item.name),
  );
  const failedAccess = (route: EventRoute, vhost: string) =>
    routeServiceUsers(route, vhost).flatMap(
      (user) => failedByUser.get(compositeKey(vhost, user)) ?? [],
    );
  const announced = new Map(decision.drift.map((repair) => [resourceKey(repair.route), repair]));
  const writes: StatusWrite[] = [];
  for (const route of decision.live) {
    const key = resourceKey(route);
    const owned: RouteObjects | undefined = objects.get(key);
    const outcome: RouteOutcome = {
      rejection: compiled.rejected.get(key),
      paused: decision.paused.has(key),
      brokerError: decision.unreachable,
      objects: owned,
      readBack: decision.readBack.get(key),
      failed: owned && [
        ...(failedByGroup.get(groupKey(owned.vhost, owned.queue)) ?? []),
        ...failedAccess(route, owned.vhost),
      ],
      autoscaling: autoscaling.get(key),
      nodesDown: 'actual' in observation.broker ? observation.broker.nodesDown : undefined,
    };
    // A route whose drift was announced has that status now.
    const drifted = announced.get(key);
    const previous = drifted ? { ...route, status: drifted.status } : route;
    outcome.repairing = repairUnderWay(previous.status);
    const next = withReadTime(previous.status, routeStatusFor(previous, outcome, now), now);
    if (!statusChanged(previous.status, next)) continue;
    const wasReady = findCondition(previous.status?.conditions as Condition[] | undefined, 'Ready');
    const ready = findCondition(next.conditions as Condition[] | undefined, 'Ready');
    const event: RecordedEvent | undefined =
      !ready || ready.status === wasReady?.status
        ? undefined
        : ready.status === 'True'
          ? {
              type: 'Normal',
              reason: wasReady?.reason === REASONS.brokerObjectMissing ? 'Repaired' : 'Synced',
              message: ready.message,
            }
          : { type: 'Warning', reason: ready.reason, message: ready.message };
    writes.push({ route, status: next, event });
  }
  return writes;
}

function policyStatuses(
  policies: readonly RetryPolicy[],
  live: readonly EventRoute[],
  now: Date,
): TopologySettlement['policyStatuses'] {
  const users = groupBy(
    live.filter((route) => route.spec.retryPolicyRef),
    (route) => compositeKey(route.metadata.namespace ?? '', route.spec.retryPolicyRef!.name),
  );
  return policies.flatMap((policy) => {
    const count =
      users.get(compositeKey(policy.metadata.namespace ?? '', policy.metadata.name))?.length ?? 0;
    const conditions = setConditions(
      policy.status?.conditions as Condition[] | undefined,
      [
        {
          type: 'Ready',
          status: 'True',
          reason: REASONS.synced,
          message: `used by ${count} EventRoutes`,
        },
      ],
      policy.metadata.generation,
      now,
    );
    const status = {
      observedGeneration: policy.metadata.generation,
      conditions,
      delays: retryDelays(policy.spec).map(formatDuration),
      routes: count,
    };
    return statusChanged(policy.status, status) ? [{ policy, status }] : [];
  });
}

/** Routes being deleted, once the apply dealt with their group (kept under Retain, or removed). */
function finalizedRoutes(
  decision: TopologyDecision,
  result: ApplyResult,
  defaultVhost: string,
): FinalizerAction[] {
  const retained = groupBy(result.retained, (kept) => itemGroup(kept.item) ?? '');
  const failing = new Set(result.failed.map((failure) => itemGroup(failure.item)));
  return decision.deleting.flatMap((route): FinalizerAction[] => {
    const group = routeGroup(route, defaultVhost);
    if (failing.has(group)) return [];
    const kept = retained.get(group) ?? [];
    const message =
      kept.length > 0
        ? `deletionPolicy Retain: kept ${describe(kept.map((k) => k.item))} (${kept[0]?.reason ?? 'holds messages'})`
        : `deletionPolicy ${route.spec.deletionPolicy}: broker objects removed`;
    const reason = kept.length > 0 ? 'Retained' : 'Deleted';
    return [{ route, action: 'remove', event: { type: 'Normal', reason, message } }];
  });
}

/** Deleting routes while the broker is down: wait, unless the timeout passed or the user forces it. */
function unreachableFinalizers(
  decision: TopologyDecision,
  message: string,
  observation: TopologyObservation,
): Pick<TopologySettlement, 'finalizers' | 'recheckAfterMs'> {
  const { now, finalizerTimeoutMs } = observation;
  const finalizers: FinalizerAction[] = [];
  const waits: number[] = [];
  for (const route of decision.deleting) {
    const since = Date.parse(route.metadata.deletionTimestamp ?? now.toISOString());
    const forced = isTrue(route.metadata.annotations?.[FORCE_FINALIZE_ANNOTATION]);
    const waited = now.getTime() - since;
    if (forced || waited >= finalizerTimeoutMs) {
      const why = forced
        ? 'on request (warren.dev/force-finalize)'
        : `after ${finalizerTimeoutMs / 1000}s`;
      finalizers.push({
        route,
        action: 'remove',
        event: {
          type: 'Warning',
          reason: 'FinalizerForced',
          message: `${message}; finalizer removed ${why}: its broker objects may remain`,
        },
      });
    } else waits.push(finalizerTimeoutMs - waited);
  }
  return { finalizers, recheckAfterMs: waits.length > 0 ? Math.min(...waits) : undefined };
}

/**
 * What the reconcile writes after the apply (`result`), or after finding the broker unreachable.
 * `autoscaling`: the KEDA outcome per autoscaled route (controller/autoscaling.ts), for its status.
 */
export function settleTopology(
  observation: TopologyObservation,
  decision: TopologyDecision,
  result: ApplyResult = emptyApplyResult(),
  autoscaling: ReadonlyMap<string, RouteAutoscaling> = new Map(),
): TopologySettlement {
  if (decision.unreachable !== undefined) {
    return {
      statuses: statusWrites(observation, decision, [], autoscaling),
      policyStatuses: [],
      ...unreachableFinalizers(decision, decision.unreachable, observation),
    };
  }
  return {
    statuses: statusWrites(observation, decision, result.failed, autoscaling),
    policyStatuses: policyStatuses(observation.policies, decision.live, observation.now),
    finalizers: finalizedRoutes(decision, result, observation.defaultVhost),
  };
}
