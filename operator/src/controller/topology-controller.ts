/**
 * The EventRoute / RetryPolicy controller: one level-based reconcile of the whole topology per
 * broker, through the same engine as `warren apply`: compile, read the broker back, plan,
 * apply, then write status from what was found. Idempotent; at an idle resync it writes
 * nothing to the broker and nothing to the API server.
 */
import { randomBytes } from 'node:crypto';
import type { EventRoute, RetryPolicy } from '@warren/crds';
import { formatDuration, resourceKey } from '@warren/crds';
import { applyPlan } from '../broker/apply';
import { ManagementClient, segment } from '../broker/client';
import { amqpQueueProbe } from '../broker/queue-probe';
import { readActualState } from '../broker/read';
import type { BrokerSettings } from '../cli/connection';
import { retryDelays } from '../engine/delays';
import type { RouteObjects, UserObject } from '../engine/model';
import { consumerQueueName, serviceUserName } from '../engine/naming';
import { groupKey, plan, summarize, type Plan, type PlanItem } from '../engine/plan';
import { routeStatuses, type RouteStatus } from '../engine/status';
import { prometheusRuleFor } from '../alerts/rules';
import type { KubeClient, KubeObject } from '../kube/client';
import { KubeApiError } from '../kube/client';
import { setConditions, type Condition } from '../kube/conditions';
import type { EventRecorder } from '../kube/events';
import { Informer } from '../kube/informer';
import { WatchedCollection } from '../kube/watched';
import { runLimited } from '../util/run-limited';
import { phaseTimer } from '../util/phase-timer';
import type { Logger } from '../observability/log';
import type { OperatorMetrics } from '../observability/metrics';
import {
  FINALIZER,
  FORCE_FINALIZE_ANNOTATION,
  isTrue,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  PAUSED_ANNOTATION,
  UNMANAGED_ANNOTATION,
} from './annotations';
import { CatalogueWriter } from './asyncapi-catalogue';
import { KedaAutoscaling } from './autoscaling';
import { compileResilient } from './resilient-compile';
import {
  collectionPath,
  coreCollectionPath,
  corePath,
  GROUP_VERSION,
  objectPath,
} from './resources';
import {
  REASONS,
  driftStatusFor,
  routeStatusFor,
  statusChanged,
  type RouteOutcome,
} from './route-status';
import {
  BROKER_USER_ANNOTATION,
  credentialsSecret,
  servicePlacements,
  topologyConfigMap,
  type ServicePlacement,
} from './service-outputs';

export interface ControllerOptions {
  client: KubeClient;
  broker: BrokerSettings;
  /** Namespaces to watch; empty = all. */
  namespaces: string[];
  resyncMs: number;
  finalizerTimeoutMs: number;
  metrics: OperatorMetrics;
  events: EventRecorder;
  log: Logger;
  /** Write PrometheusRules (when the monitoring.coreos.com API exists). */
  prometheusRules?: boolean;
}

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}
interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
}

const ROUTE = { apiVersion: GROUP_VERSION, kind: 'EventRoute' } as const;
/** API-server writes in flight at once: 500 routes written one by one took most of a minute. */
const API_WRITE_CONCURRENCY = 8;
const managedSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

export class TopologyController {
  private readonly routes: WatchedCollection<EventRoute & KubeObject>;
  private readonly policies: WatchedCollection<RetryPolicy & KubeObject>;
  private readonly secrets: WatchedCollection<SecretObject>;
  private readonly configMaps: WatchedCollection<ConfigMapObject>;
  private prometheusRulesAvailable = false;
  /** Last PrometheusRule body written per route, to write only what changed. */
  private readonly writtenRules = new Map<string, string>();
  private synced = false;
  /** KEDA ScaledObjects of routes with spec.consumer.autoscaling (controller/autoscaling.ts). */
  private readonly autoscaling: KedaAutoscaling;
  /** The namespaces' AsyncAPI ConfigMaps (controller/asyncapi-catalogue.ts). */
  private readonly catalogues: CatalogueWriter;

  constructor(
    private readonly options: ControllerOptions,
    private readonly enqueue: () => void,
  ) {
    const scopes = options.namespaces.length > 0 ? options.namespaces : [undefined];
    const informer =
      <T extends KubeObject>(labelSelector?: string) =>
      (path: string) =>
        new Informer<T>({
          client: options.client,
          path,
          labelSelector,
          relistIntervalMs: Math.max(options.resyncMs * 5, 300_000),
          onEvent: () => enqueue(),
          onError: (error) =>
            options.log.warn({ err: String(error), path }, 'watch failed; retrying'),
        });
    this.routes = new WatchedCollection(
      scopes.map((ns) => collectionPath('eventroutes', ns)),
      informer(),
    );
    this.policies = new WatchedCollection(
      scopes.map((ns) => collectionPath('retrypolicies', ns)),
      informer(),
    );
    // Only Warren's own Secrets and ConfigMaps are cached, never every Secret of the cluster.
    this.secrets = new WatchedCollection(
      scopes.map((ns) => coreCollectionPath('secrets', ns)),
      informer(managedSelector),
    );
    this.configMaps = new WatchedCollection(
      scopes.map((ns) => coreCollectionPath('configmaps', ns)),
      informer(managedSelector),
    );
    this.catalogues = new CatalogueWriter(options.client);
    this.autoscaling = new KedaAutoscaling({
      client: options.client,
      log: options.log,
      scopes,
      relistIntervalMs: Math.max(options.resyncMs * 5, 300_000),
      enqueue,
      managementUrl: options.broker.managementUrl,
    });
  }

  get isSynced(): boolean {
    return this.synced;
  }

  async start(): Promise<void> {
    await Promise.all([
      this.routes.start(),
      this.policies.start(),
      this.secrets.start(),
      this.configMaps.start(),
    ]);
    if (this.options.prometheusRules !== false) {
      this.prometheusRulesAvailable =
        (await this.options.client.find('/apis/monitoring.coreos.com/v1')) !== undefined;
    }
    await this.autoscaling.start();
    this.synced = true;
  }

  stop(): void {
    for (const watched of [this.routes, this.policies, this.secrets, this.configMaps])
      watched.stop();
    this.autoscaling.stop();
  }

  private vhostOf = (route: EventRoute) => route.spec.vhost ?? this.options.broker.defaultVhost;
  private queueOf = (route: EventRoute) =>
    route.spec.consumer.queue ??
    consumerQueueName(route.spec.consumer.service, route.metadata.name);

  /** One pass over everything. Throws (and so backs off) when the broker cannot be reached. */
  async reconcile(): Promise<{ requeueAfterMs: number }> {
    const { log, metrics } = this.options;
    const now = new Date();
    const phases = phaseTimer();
    const all = this.routes.list();
    const policies = this.policies.list();

    const active: EventRoute[] = [];
    const deleting: EventRoute[] = [];
    const released: EventRoute[] = [];
    const paused = new Set<string>();
    const finalizerChanges: (() => Promise<void>)[] = [];
    for (const route of all) {
      const annotations = route.metadata.annotations ?? {};
      const hasFinalizer = route.metadata.finalizers?.includes(FINALIZER) ?? false;
      if (isTrue(annotations[UNMANAGED_ANNOTATION])) {
        released.push(route);
        if (hasFinalizer)
          finalizerChanges.push(() =>
            this.removeFinalizer(
              route,
              'Released',
              'annotation warren.dev/unmanaged: the broker objects are kept and no longer managed',
            ),
          );
      } else if (route.metadata.deletionTimestamp) {
        if (hasFinalizer) deleting.push(route);
      } else {
        if (!hasFinalizer) finalizerChanges.push(() => this.addFinalizer(route));
        active.push(route);
        if (isTrue(annotations[PAUSED_ANNOTATION])) paused.add(resourceKey(route));
      }
    }
    await runLimited(finalizerChanges, API_WRITE_CONCURRENCY, (change) => change());
    phases.mark('finalizers');

    const { desired, rejected } = compileResilient(active, policies, {
      defaultVhost: this.options.broker.defaultVhost,
    });
    const routeObjects = new Map(desired.routes.map((objects) => [objects.route, objects]));

    // Groups the plan must not touch: paused routes (no writes) and released ones (no deletes).
    const untouchable = new Set<string>();
    const untouchableExchanges = new Set<string>();
    for (const route of [...released, ...active.filter((r) => paused.has(resourceKey(r)))]) {
      untouchable.add(groupKey(this.vhostOf(route), this.queueOf(route)));
      untouchableExchanges.add(`${this.vhostOf(route)}\u0000${route.spec.exchange.name}`);
    }
    const removedGroupPolicies = new Map(
      deleting.map(
        (route) =>
          [
            groupKey(this.vhostOf(route), this.queueOf(route)),
            route.spec.deletionPolicy ?? 'Retain',
          ] as const,
      ),
    );

    const client = new ManagementClient(this.options.broker.managementUrl);
    const vhosts = new Set([
      this.options.broker.defaultVhost,
      ...desired.vhosts.map((v) => v.vhost),
      ...[...deleting, ...released].map(this.vhostOf),
    ]);
    let fullPlan: Plan;
    let actual;
    try {
      actual = await readActualState(client, vhosts);
      fullPlan = plan(desired, actual, { removedGroupPolicies });
      phases.mark('readAndPlan');
    } catch (error) {
      const message = `broker ${client.origin} unreachable: ${(error as Error).message}`;
      await this.writeRouteStatuses(
        active,
        rejected,
        routeObjects,
        paused,
        new Map(),
        new Map(),
        message,
        now,
      );
      await this.finalizeUnreachable(deleting, message, now);
      metrics.brokerRequests.inc({ method: 'all' }, client.calls);
      throw error;
    }

    // A consumer-queue group is deleted from only when a live route changed it or a route being
    // deleted owned it: groups no route claims (released, or finalizer forced away) are left alone.
    const claimedGroups = new Set([
      ...desired.routes.map((r) => groupKey(r.vhost, r.queue)),
      ...removedGroupPolicies.keys(),
    ]);
    const removable = (item: PlanItem) =>
      item.action !== 'delete' ||
      item.group === null ||
      claimedGroups.has(groupKey(item.vhost, item.group));
    const touchable = (item: PlanItem) =>
      removable(item) &&
      !(item.group !== null && untouchable.has(groupKey(item.vhost, item.group))) &&
      !(item.kind === 'exchange' && untouchableExchanges.has(`${item.vhost}\u0000${item.name}`));
    const toApply = summarize(fullPlan.items.filter(touchable));
    const readBack = new Map(
      routeStatuses(desired.routes, fullPlan, actual).map((status) => [status.route, status]),
    );

    // Ready goes False before a repair, so the drift is visible and recorded, not silently healed.
    for (const route of active) {
      const status = readBack.get(resourceKey(route));
      // Drift is an object the route had (its last status lists it) that is gone; a new object
      // after a spec or policy change is just progress.
      const had = new Set(
        (route.status?.brokerObjects ?? []).map((o) => `${o.kind}\u0000${o.name}`),
      );
      const missing =
        status?.pending.filter(
          (item) => item.action === 'create' && had.has(`${item.kind}\u0000${item.name}`),
        ) ?? [];
      const wasReady = route.status?.conditions?.some(
        (c) => c.type === 'Ready' && c.status === 'True',
      );
      if (wasReady && missing.length > 0 && !paused.has(resourceKey(route))) {
        for (const item of missing) metrics.driftRepairs.inc({ object: item.kind });
        await this.writeStatus(route, driftStatusFor(route, missing, now));
        await this.event(
          route,
          'Warning',
          'DriftDetected',
          `missing on the broker: ${missing.map((i) => `${i.kind} ${i.name}`).join(', ')}; recreating`,
        );
      }
    }

    const probe = amqpQueueProbe(this.options.broker.amqpUrl);
    const passwords = this.knownPasswords();
    const result = await applyPlan(client, toApply, {
      passwordFor: (user: UserObject) => passwords.get(user.name),
      probeQueue: probe.probe,
    }).finally(() => probe.close());
    phases.mark('apply');
    for (const credential of result.credentials)
      passwords.set(credential.user, credential.password);

    const failedByRoute = new Map<string, { item: PlanItem; error: string }[]>();
    for (const failure of result.failed) {
      for (const objects of desired.routes) {
        if (failure.item.vhost === objects.vhost && failure.item.group === objects.queue) {
          failedByRoute.set(objects.route, [...(failedByRoute.get(objects.route) ?? []), failure]);
        }
      }
    }
    // What services read comes first, so a route is Ready only once its service can use it.
    const placements = servicePlacements(
      active.filter((r) => !rejected.has(resourceKey(r))),
      desired.services,
      this.vhostOf,
    );
    await this.writeServiceOutputs(
      placements,
      passwords,
      actual.users.map((u) => u.name),
      client,
    );
    if (this.prometheusRulesAvailable) await this.writePrometheusRules(active, routeObjects);
    await this.autoscaling.reconcile({
      routes: active.filter((r) => !rejected.has(resourceKey(r))),
      objects: routeObjects,
      passwords,
      secrets: this.secrets.list(),
      broker: client,
    });
    await this.catalogues.write(
      [
        active.map((r) => r.metadata.namespace ?? 'default'),
        desired.services,
        desired.queues,
        this.options.broker.amqpUrl,
      ],
      this.configMaps.list(),
    );
    phases.mark('serviceOutputs');

    await this.writeRouteStatuses(
      active,
      rejected,
      routeObjects,
      paused,
      readBack,
      failedByRoute,
      undefined,
      now,
    );
    await this.writePolicyStatuses(policies, active, now);
    phases.mark('statuses');

    for (const route of deleting) {
      const group = groupKey(this.vhostOf(route), this.queueOf(route));
      const inGroup = (item: PlanItem) =>
        item.group !== null && groupKey(item.vhost, item.group) === group;
      // Retained by the plan (known to hold messages) or by the applier (found in use when probed).
      const kept = result.retained
        .filter((kept) => inGroup(kept.item))
        .map((kept) => ({ ...kept.item, reason: kept.reason }));
      const stillFailing = result.failed.some((f) => inGroup(f.item));
      if (stillFailing) continue;
      await this.removeFinalizer(
        route,
        kept.length > 0 ? 'Retained' : 'Deleted',
        kept.length > 0
          ? `deletionPolicy Retain: kept ${kept.map((i) => `${i.kind} ${i.name}`).join(', ')} (${kept[0]?.reason ?? 'holds messages'})`
          : `deletionPolicy ${route.spec.deletionPolicy}: broker objects removed`,
      );
    }

    metrics.brokerRequests.inc({ method: 'all' }, client.calls);
    metrics.brokerChanges.inc(result.applied.length);
    for (const status of readBack.values()) {
      const [namespace, route] = status.route.split('/') as [string, string];
      const labels = { namespace, route, queue: status.queue };
      if (status.depth !== undefined) metrics.queueMessages.set(labels, status.depth);
      if (status.consumers !== undefined) metrics.queueConsumers.set(labels, status.consumers);
      if (status.deadLetterDepth !== undefined)
        metrics.deadLetterMessages.set(labels, status.deadLetterDepth);
    }
    log.info(
      {
        routes: active.length,
        rejected: rejected.size,
        applied: result.applied.length,
        failed: result.failed.length,
        brokerCalls: client.calls,
        phasesMs: phases.done(),
      },
      'reconciled topology',
    );
    if (result.failed.length > 0)
      throw new Error(`${result.failed.length} broker changes failed: ${result.failed[0]!.error}`);
    return { requeueAfterMs: this.options.resyncMs };
  }

  private async writeRouteStatuses(
    routes: EventRoute[],
    rejected: Map<string, { reason: 'InvalidRoute' | 'Conflict'; message: string }>,
    objects: Map<string, RouteObjects>,
    paused: Set<string>,
    readBack: Map<string, RouteStatus>,
    failed: Map<string, { item: PlanItem; error: string }[]>,
    brokerError: string | undefined,
    now: Date,
  ) {
    const current = new Map(this.routes.list().map((r) => [resourceKey(r), r]));
    await runLimited(routes, API_WRITE_CONCURRENCY, async (route) => {
      const key = resourceKey(route);
      const outcome: RouteOutcome = {
        rejection: rejected.get(key),
        paused: paused.has(key),
        brokerError,
        objects: objects.get(key),
        readBack: readBack.get(key),
        failed: failed.get(key),
        autoscaling: this.autoscaling.outcomeFor(key),
      };
      const previous = current.get(key) ?? route;
      const next = routeStatusFor(previous, outcome, now);
      if (!statusChanged(previous.status, next)) return;
      const wasReady = previous.status?.conditions?.find((c) => c.type === 'Ready');
      const ready = next.conditions?.find((c) => c.type === 'Ready');
      await this.writeStatus(route, next);
      if (ready && ready.status !== wasReady?.status) {
        if (ready.status === 'True') {
          await this.event(
            route,
            'Normal',
            wasReady?.reason === REASONS.brokerObjectMissing ? 'Repaired' : 'Synced',
            ready.message,
          );
        } else {
          await this.event(route, 'Warning', ready.reason, ready.message);
        }
      }
    });
  }

  private async writePolicyStatuses(policies: RetryPolicy[], routes: EventRoute[], now: Date) {
    for (const policy of policies) {
      const users = routes.filter(
        (route) =>
          route.metadata.namespace === policy.metadata.namespace &&
          route.spec.retryPolicyRef?.name === policy.metadata.name,
      ).length;
      const conditions = setConditions(
        policy.status?.conditions as Condition[] | undefined,
        [
          {
            type: 'Ready',
            status: 'True',
            reason: REASONS.synced,
            message: `used by ${users} EventRoutes`,
          },
        ],
        policy.metadata.generation,
        now,
      );
      const next = {
        observedGeneration: policy.metadata.generation,
        conditions,
        delays: retryDelays(policy.spec).map(formatDuration),
        routes: users,
      };
      if (!statusChanged(policy.status as never, next as never)) continue;
      await this.options.client
        .mergePatch(
          `${objectPath('retrypolicies', policy.metadata.namespace ?? 'default', policy.metadata.name)}/status`,
          { status: next },
        )
        .catch((error) =>
          this.options.log.warn(
            { err: String(error), policy: resourceKey(policy) },
            'status write failed',
          ),
        );
    }
  }

  /** Passwords of service users, from the Secrets the operator wrote before. */
  private knownPasswords(): Map<string, string> {
    const passwords = new Map<string, string>();
    for (const secret of this.secrets.list()) {
      const user = secret.metadata.annotations?.[BROKER_USER_ANNOTATION];
      const password = secret.data?.password;
      if (user && password) passwords.set(user, Buffer.from(password, 'base64').toString('utf8'));
    }
    return passwords;
  }

  private async writeServiceOutputs(
    placements: ServicePlacement[],
    passwords: Map<string, string>,
    existingUsers: string[],
    broker: ManagementClient,
  ) {
    const secrets = new Map(
      this.secrets.list().map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]),
    );
    const configMaps = new Map(
      this.configMaps.list().map((c) => [`${c.metadata.namespace}/${c.metadata.name}`, c]),
    );
    for (const placement of placements) {
      const configMap = topologyConfigMap(placement);
      const current = configMaps.get(`${placement.namespace}/${configMap.metadata.name}`);
      if (current?.data?.['topology.json'] !== configMap.data['topology.json']) {
        await this.options.client.apply(
          corePath(placement.namespace, 'configmaps', configMap.metadata.name),
          configMap,
          'warren-operator',
        );
      }

      const user = serviceUserName(placement.document.service, placement.document.vhost);
      let password = passwords.get(user);
      if (password === undefined && existingUsers.includes(user)) {
        // Every Secret of this user is gone: rotate, so the lost password stops working.
        password = randomBytes(24).toString('base64url');
        await broker.request('PUT', `/api/users/${segment(user)}`, {
          password,
          tags: 'warren-managed',
        });
        passwords.set(user, password);
        this.options.log.info(
          { user, namespace: placement.namespace },
          'credentials Secret deleted: password rotated',
        );
      }
      if (password === undefined) continue;
      const secret = credentialsSecret(placement, { user, password }, this.options.broker.amqpUrl);
      const existing = secrets.get(`${placement.namespace}/${secret.metadata.name}`);
      const same =
        existing?.data?.password === Buffer.from(password).toString('base64') &&
        existing?.data?.url === Buffer.from(secret.stringData.url).toString('base64');
      if (!same) {
        await this.options.client.apply(
          corePath(placement.namespace, 'secrets', secret.metadata.name),
          secret,
          'warren-operator',
        );
      }
    }
  }

  private async writePrometheusRules(routes: EventRoute[], objects: Map<string, RouteObjects>) {
    for (const route of routes) {
      const owned = objects.get(resourceKey(route));
      if (!owned || !route.metadata.uid) continue;
      const rule = prometheusRuleFor(
        {
          namespace: route.metadata.namespace ?? 'default',
          route: route.metadata.name,
          consumerService: route.spec.consumer.service,
          vhost: owned.vhost,
          queue: owned.queue,
          deadLetterQueue: owned.deadLetterQueue,
          retryQueues: owned.retryQueues,
          thresholds: route.spec.alerts,
        },
        { ...ROUTE, name: route.metadata.name, uid: route.metadata.uid },
      );
      const body = JSON.stringify(rule);
      const key = resourceKey(route);
      if (this.writtenRules.get(key) === body) continue;
      await this.options.client.apply(
        `/apis/monitoring.coreos.com/v1/namespaces/${rule.metadata.namespace}/prometheusrules/${rule.metadata.name}`,
        rule,
        'warren-operator',
      );
      this.writtenRules.set(key, body);
    }
  }

  /** Deleting routes while the broker is down: wait, unless the timeout passed or the user forces it. */
  private async finalizeUnreachable(routes: EventRoute[], message: string, now: Date) {
    for (const route of routes) {
      const since = Date.parse(route.metadata.deletionTimestamp ?? now.toISOString());
      const forced = isTrue(route.metadata.annotations?.[FORCE_FINALIZE_ANNOTATION]);
      if (forced || now.getTime() - since >= this.options.finalizerTimeoutMs) {
        await this.removeFinalizer(
          route,
          'FinalizerForced',
          `${message}; finalizer removed ${forced ? 'on request (warren.dev/force-finalize)' : `after ${this.options.finalizerTimeoutMs / 1000}s`}: its broker objects may remain`,
          'Warning',
        );
      } else {
        this.enqueueAt(this.options.finalizerTimeoutMs - (now.getTime() - since));
      }
    }
  }

  private enqueueAt(delayMs: number) {
    setTimeout(() => this.enqueue(), Math.max(0, delayMs) + 100).unref?.();
  }

  private async addFinalizer(route: EventRoute) {
    await this.patchMetadata(route, {
      finalizers: [...(route.metadata.finalizers ?? []), FINALIZER],
    });
  }

  private async removeFinalizer(
    route: EventRoute,
    reason: string,
    message: string,
    type: 'Normal' | 'Warning' = 'Normal',
  ) {
    await this.event(route, type, reason, message);
    await this.patchMetadata(route, {
      finalizers: (route.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
    });
  }

  /** Merge patch guarded by resourceVersion: a stale view gets 409 and the reconcile retries. */
  private async patchMetadata(route: EventRoute, metadata: Record<string, unknown>) {
    try {
      await this.options.client.mergePatch(
        objectPath('eventroutes', route.metadata.namespace ?? 'default', route.metadata.name),
        {
          metadata: { ...metadata, resourceVersion: route.metadata.resourceVersion },
        },
      );
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return;
      throw error;
    }
  }

  private async writeStatus(route: EventRoute, status: unknown) {
    try {
      await this.options.client.mergePatch(
        `${objectPath('eventroutes', route.metadata.namespace ?? 'default', route.metadata.name)}/status`,
        {
          status,
        },
      );
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return;
      throw error;
    }
  }

  private event(route: EventRoute, type: 'Normal' | 'Warning', reason: string, message: string) {
    return this.options.events
      .record({ ...ROUTE, metadata: route.metadata }, type, reason, message)
      .catch((error) => this.options.log.warn({ err: String(error) }, 'event not recorded'));
  }
}
