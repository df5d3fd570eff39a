/**
 * KEDA objects generated from EventRoutes with `spec.consumer.autoscaling`: pure, from the routes
 * and their compiled queues. Per namespace and consumer service one ScaledObject
 * (`warren-<service>`) with one `rabbitmq` trigger per autoscaled queue (mode QueueLength, over
 * the management API); per namespace and vhost one TriggerAuthentication and its Secret
 * (`warren-keda-<hash of the vhost>`) holding the management URL with the credentials of the
 * vhost's scaler user (tag `monitoring`, permissions `^$`: it sees depths, reads no message).
 */
import { createHash } from 'node:crypto';
import type { EventRoute } from '@warren/crds';
import { resourceKey } from '@warren/crds/core';
import { autoscalerUserName } from '../engine/naming';
import type { ConditionInput } from '../kube/conditions';
import {
  COMPONENT_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  SERVICE_LABEL,
} from '../controller/annotations';

export const KEDA_GROUP_VERSION = 'keda.sh/v1alpha1';
export const KEDA_API = `/apis/${KEDA_GROUP_VERSION}`;
/** On every object below, so the operator lists (and prunes) only its own. */
export const KEDA_COMPONENT_LABEL = COMPONENT_LABEL;
export const KEDA_COMPONENT = 'keda-autoscaling';

export type AutoscalingSpec = NonNullable<EventRoute['spec']['consumer']['autoscaling']>;

/** An autoscaled route with the queue the compiler gave it. */
export interface AutoscaledRoute {
  route: EventRoute;
  vhost: string;
  queue: string;
}

export interface Owner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

interface Meta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences: (Owner & { controller: false; blockOwnerDeletion: false })[];
}

export interface ScaledObject {
  apiVersion: typeof KEDA_GROUP_VERSION;
  kind: 'ScaledObject';
  metadata: Meta;
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1'; kind: 'Deployment' | 'StatefulSet'; name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    pollingInterval?: number;
    cooldownPeriod?: number;
    triggers: {
      type: 'rabbitmq';
      name: string;
      metadata: Record<string, string>;
      authenticationRef: { name: string };
    }[];
  };
}

export interface TriggerAuthentication {
  apiVersion: typeof KEDA_GROUP_VERSION;
  kind: 'TriggerAuthentication';
  metadata: Meta;
  spec: { secretTargetRef: { parameter: 'host'; name: string; key: 'host' }[] };
}

/** What the scaler's Secret must hold; the password is known only at write time. */
export interface ScalerSecretSpec {
  namespace: string;
  name: string;
  vhost: string;
  user: string;
  owners: Owner[];
}

export interface KedaObjects {
  scaledObjects: ScaledObject[];
  triggerAuthentications: TriggerAuthentication[];
  secrets: ScalerSecretSpec[];
  /** Route key -> the ScaledObject it contributes to. */
  scaledObjectOf: Map<string, string>;
  /** Route key -> why no ScaledObject was written for it. */
  conflicts: Map<string, string>;
  /** `namespace/name` of ScaledObjects left as they are while their routes conflict (never pruned for it). */
  held: string[];
}

export const scaledObjectName = (service: string) => `warren-${service}`;
/** Vhost names are free text: hash them into a Kubernetes name. */
export const scalerAuthName = (vhost: string) =>
  `warren-keda-${createHash('sha256').update(vhost).digest('hex').slice(0, 10)}`;

const labels = (extra: Record<string, string> = {}) => ({
  [MANAGED_BY_LABEL]: MANAGED_BY,
  [KEDA_COMPONENT_LABEL]: KEDA_COMPONENT,
  ...extra,
});
const ownerRefs = (owners: Owner[]) =>
  owners.map((owner) => ({
    ...owner,
    controller: false as const,
    blockOwnerDeletion: false as const,
  }));

const ownerOf = (route: EventRoute): Owner => ({
  apiVersion: route.apiVersion,
  kind: route.kind,
  name: route.metadata.name,
  uid: route.metadata.uid ?? '',
});

/** The workload bounds and timings routes of one service must agree on (one ScaledObject). */
const boundsOf = (spec: AutoscalingSpec, service: string) => ({
  minReplicas: spec.minReplicas,
  maxReplicas: spec.maxReplicas,
  kind: spec.target?.kind ?? 'Deployment',
  name: spec.target?.name ?? service,
  pollingInterval: spec.pollingIntervalSeconds,
  cooldownPeriod: spec.cooldownPeriodSeconds,
});
const describeBounds = (b: ReturnType<typeof boundsOf>) =>
  [
    `${b.kind} ${b.name} ${b.minReplicas}..${b.maxReplicas}`,
    b.pollingInterval !== undefined && `polling ${b.pollingInterval} s`,
    b.cooldownPeriod !== undefined && `cooldown ${b.cooldownPeriod} s`,
  ]
    .filter(Boolean)
    .join(', ');

/** A trigger name KEDA accepts (it also names the HPA's external metric). */
const triggerName = (queue: string) =>
  queue
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 50)
    .replace(/-+$/, '') || 'queue';

export function kedaObjectsFor(routes: readonly AutoscaledRoute[]): KedaObjects {
  const result: KedaObjects = {
    scaledObjects: [],
    triggerAuthentications: [],
    secrets: [],
    scaledObjectOf: new Map(),
    conflicts: new Map(),
    held: [],
  };
  const byService = new Map<string, AutoscaledRoute[]>();
  for (const entry of routes) {
    if (!entry.route.spec.consumer.autoscaling) continue;
    const key = `${entry.route.metadata.namespace ?? 'default'}\u0000${entry.route.spec.consumer.service}`;
    byService.set(key, [...(byService.get(key) ?? []), entry]);
  }
  const auths = new Map<string, ScalerSecretSpec>();

  for (const [key, entries] of [...byService].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [namespace, service] = key.split('\u0000') as [string, string];
    entries.sort((a, b) => (resourceKey(a.route) < resourceKey(b.route) ? -1 : 1));
    const bounds = entries.map((e) => boundsOf(e.route.spec.consumer.autoscaling!, service));
    const distinct = new Set(bounds.map(describeBounds));
    if (distinct.size > 1) {
      const message =
        `routes of ${service} in ${namespace} disagree on the workload to scale: ` +
        entries
          .map((e, i) => `${e.route.metadata.name} (${describeBounds(bounds[i]!)})`)
          .join(', ') +
        '; give them the same minReplicas, maxReplicas, target, pollingIntervalSeconds and cooldownPeriodSeconds';
      for (const entry of entries) result.conflicts.set(resourceKey(entry.route), message);
      result.held.push(`${namespace}/${scaledObjectName(service)}`);
    }
    for (const { route, vhost } of entries) {
      const authName = scalerAuthName(vhost);
      const auth = auths.get(`${namespace}\u0000${authName}`);
      if (auth) auth.owners.push(ownerOf(route));
      else
        auths.set(`${namespace}\u0000${authName}`, {
          namespace,
          name: authName,
          vhost,
          user: autoscalerUserName(vhost),
          owners: [ownerOf(route)],
        });
    }
    if (distinct.size > 1) continue;
    const target = bounds[0]!;
    const name = scaledObjectName(service);
    const triggers: ScaledObject['spec']['triggers'] = [];
    for (const { route, vhost, queue } of entries) {
      const spec = route.spec.consumer.autoscaling!;
      const authName = scalerAuthName(vhost);
      triggers.push({
        type: 'rabbitmq',
        name: triggerName(queue),
        metadata: {
          protocol: 'http',
          mode: 'QueueLength',
          queueName: queue,
          vhostName: vhost,
          value: String(spec.targetQueueLength),
          ...(spec.activationQueueLength !== undefined && {
            activationValue: String(spec.activationQueueLength),
          }),
        },
        authenticationRef: { name: authName },
      });
      result.scaledObjectOf.set(resourceKey(route), name);
    }
    result.scaledObjects.push({
      apiVersion: KEDA_GROUP_VERSION,
      kind: 'ScaledObject',
      metadata: {
        name,
        namespace,
        labels: labels({ [SERVICE_LABEL]: service }),
        ownerReferences: ownerRefs(entries.map((e) => ownerOf(e.route))),
      },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: target.kind, name: target.name },
        minReplicaCount: target.minReplicas,
        maxReplicaCount: target.maxReplicas,
        ...(target.pollingInterval !== undefined && { pollingInterval: target.pollingInterval }),
        ...(target.cooldownPeriod !== undefined && { cooldownPeriod: target.cooldownPeriod }),
        triggers,
      },
    });
  }

  const byName = (a: ScalerSecretSpec, b: ScalerSecretSpec) =>
    `${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1;
  for (const auth of [...auths.values()].sort(byName)) {
    result.secrets.push(auth);
    result.triggerAuthentications.push({
      apiVersion: KEDA_GROUP_VERSION,
      kind: 'TriggerAuthentication',
      metadata: {
        name: auth.name,
        namespace: auth.namespace,
        labels: labels(),
        annotations: { 'warren.dev/vhost': auth.vhost },
        ownerReferences: ownerRefs(auth.owners),
      },
      spec: { secretTargetRef: [{ parameter: 'host', name: auth.name, key: 'host' }] },
    });
  }
  return result;
}

/**
 * The scaler's Secret: `host` is the management API URL with the scaler user's credentials and
 * the vhost as its path, as KEDA's rabbitmq scaler expects with protocol http.
 */
export function scalerSecret(
  spec: ScalerSecretSpec,
  credentials: { user: string; password: string },
  managementUrl: string,
  annotations: Record<string, string>,
) {
  const url = new URL(managementUrl);
  url.username = encodeURIComponent(credentials.user);
  url.password = encodeURIComponent(credentials.password);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${encodeURIComponent(spec.vhost)}`;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: labels(),
      annotations,
      ownerReferences: ownerRefs(spec.owners),
    },
    // username/password too, so the operator finds the password again after a restart.
    stringData: {
      host: url.toString(),
      username: credentials.user,
      password: credentials.password,
    },
  };
}

interface KedaCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export const AUTOSCALING_CONDITION = 'Autoscaling';
export const AUTOSCALING_REASONS = {
  ready: 'ScalerReady',
  notReady: 'ScalerNotReady',
  waiting: 'WaitingForKeda',
  refused: 'ScalerRefused',
  conflict: 'AutoscalingConflict',
  kedaMissing: 'KedaNotInstalled',
} as const;

/** The route's `Autoscaling` condition from what happened to its ScaledObject. */
export function autoscalingCondition(
  outcome:
    | { kind: 'conflict'; message: string }
    | { kind: 'kedaMissing' }
    | { kind: 'refused'; scaledObject: string; message: string }
    | { kind: 'written'; scaledObject: string; conditions: readonly KedaCondition[] | undefined },
): ConditionInput {
  const c = (status: ConditionInput['status'], reason: string, message: string) => ({
    type: AUTOSCALING_CONDITION,
    status,
    reason,
    message,
  });
  switch (outcome.kind) {
    case 'conflict':
      return c('False', AUTOSCALING_REASONS.conflict, outcome.message);
    case 'kedaMissing':
      return c(
        'False',
        AUTOSCALING_REASONS.kedaMissing,
        `spec.consumer.autoscaling is set but the ${KEDA_GROUP_VERSION} API does not exist: install KEDA`,
      );
    case 'refused':
      return c(
        'False',
        AUTOSCALING_REASONS.refused,
        `ScaledObject ${outcome.scaledObject} refused: ${outcome.message}`,
      );
    case 'written': {
      const ready = outcome.conditions?.find((k) => k.type === 'Ready');
      const active = outcome.conditions?.find((k) => k.type === 'Active');
      const detail = [ready?.message, active && `Active=${active.status}`]
        .filter(Boolean)
        .join('; ');
      if (!ready || ready.status === 'Unknown')
        return c(
          'Unknown',
          AUTOSCALING_REASONS.waiting,
          `ScaledObject ${outcome.scaledObject} written; KEDA has not reported on it yet`,
        );
      return ready.status === 'True'
        ? c('True', AUTOSCALING_REASONS.ready, `ScaledObject ${outcome.scaledObject}: ${detail}`)
        : c(
            'False',
            AUTOSCALING_REASONS.notReady,
            `ScaledObject ${outcome.scaledObject} (${ready.reason ?? 'not ready'}): ${detail}`,
          );
    }
  }
}
