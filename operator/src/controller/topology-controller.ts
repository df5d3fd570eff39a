/**
 * The EventRoute / RetryPolicy controller: one level-based reconcile of the whole topology per
 * broker, through the same engine as `warren apply`: compile, read the broker back, plan,
 * apply, then write status from what was found. Idempotent; at an idle resync it writes
 * nothing to the broker and nothing to the API server.
 */
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import type { EventRoute, EventRouteStatus, RetryPolicy } from '@warren/crds';
import { API_VERSION, resourceKey } from '@warren/crds/core';
import { applyPlan, type ApplyResult } from '../broker/apply';
import { ManagementClient } from '../broker/client';
import { readNodesDown } from '../broker/nodes';
import { amqpQueueProbe } from '../broker/queue-probe';
import { readActualState } from '../broker/read';
import type { BrokerSettings } from '../broker/settings';
import type { DesiredTopology, UserObject } from '../engine/model';
import type { KubeClient, KubeObject } from '../kube/client';
import type { EventRecorder } from '../kube/events';
import { Informer } from '../kube/informer';
import { eventsFor, finalizersWith, patchMetadata, patchStatus } from '../kube/status';
import { WatchedCollection } from '../kube/watched';
import { TerminalError } from '../kube/work-queue';
import { runLimited } from '../util/run-limited';
import { phaseTimer } from '../util/phase-timer';
import type { Logger } from '../observability/log';
import type { OperatorMetrics } from '../observability/metrics';
import { FINALIZER, MANAGED_BY, MANAGED_BY_LABEL } from './annotations';
import { CatalogueWriter } from './asyncapi-catalogue';
import type { DeletedObject } from './broker-events';
import { KedaAutoscaling } from './autoscaling';
import { PrometheusRuleWriter } from './prometheus-rule-writer';
import { compileResilient } from './resilient-compile';
import { collectionPath, coreCollectionPath, objectPath } from './resources';
import { ServiceOutputWriter } from './service-output-writer';
import { passwordsOf } from './service-outputs';
import {
  decideTopology,
  describe,
  driftFromEvents,
  liveRoutes,
  vhostsToRead,
  type DriftRepair,
  type FinalizerAction,
  type StatusWrite,
  type TopologyDecision,
  type TopologyObservation,
} from './topology-decision';
import { settleTopology, type TopologySettlement } from './topology-settlement';

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
  /** Told what each reconcile wants on the broker (the drift watch listens for its deletion). */
  onDesired?: (desired: DesiredTopology) => void;
}

type SecretObject = V1Secret & KubeObject;
type ConfigMapObject = V1ConfigMap & KubeObject;

const ROUTE = { apiVersion: API_VERSION, kind: 'EventRoute' } as const;
const FIELD_MANAGER = 'warren-operator';
const routePath = (route: EventRoute) =>
  objectPath('eventroutes', route.metadata.namespace ?? 'default', route.metadata.name);
/** API-server writes in flight at once: 500 routes written one by one took most of a minute. */
const API_WRITE_CONCURRENCY = 8;
const managedSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

export class TopologyController {
  private readonly routes: WatchedCollection<EventRoute & KubeObject>;
  private readonly policies: WatchedCollection<RetryPolicy & KubeObject>;
  private readonly secrets: WatchedCollection<SecretObject>;
  private readonly configMaps: WatchedCollection<ConfigMapObject>;
  /** The routes' PrometheusRules (controller/prometheus-rule-writer.ts). */
  private readonly rules: PrometheusRuleWriter;
  /** Services' ConfigMaps and Secrets (controller/service-output-writer.ts). */
  private readonly outputs: ServiceOutputWriter;
  private synced = false;
  private readonly event: ReturnType<typeof eventsFor>;
  /** KEDA ScaledObjects of routes with spec.consumer.autoscaling (controller/autoscaling.ts). */
  private readonly autoscaling: KedaAutoscaling;
  /** The namespaces' AsyncAPI ConfigMaps (controller/asyncapi-catalogue.ts). */
  private readonly catalogues: CatalogueWriter;

  constructor(
    private readonly options: ControllerOptions,
    private readonly enqueue: () => void,
  ) {
    this.event = eventsFor(options.events, ROUTE, (error) =>
      options.log.warn({ err: String(error) }, 'event not recorded'),
    );
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
    this.rules = new PrometheusRuleWriter(options.client, FIELD_MANAGER);
    this.outputs = new ServiceOutputWriter(options.client, FIELD_MANAGER, options.broker.amqpUrl);
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
    await this.rules.start(this.options.prometheusRules !== false);
    await this.autoscaling.start();
    this.synced = true;
  }

  stop(): void {
    for (const watched of [this.routes, this.policies, this.secrets, this.configMaps])
      watched.stop();
    this.autoscaling.stop();
  }

  /** One pass over everything. Throws (and so backs off) when the broker cannot be reached. */
  async reconcile(): Promise<{ requeueAfterMs: number }> {
    const phases = phaseTimer();
    const broker = this.brokerClient();
    const observation = await this.observe(broker);
    phases.mark('readAndPlan');
    const decision = decideTopology(observation);
    this.options.onDesired?.(observation.compiled.desired);
    await this.writeFinalizers(decision.finalizers);
    phases.mark('finalizers');
    if (decision.unreachable !== undefined) {
      await this.settle(
        settleTopology(observation, decision, undefined, this.autoscaling.outcomes),
      );
      this.countCalls(broker);
      throw observation.brokerError;
    }
    await this.announceDrift(decision.drift);
    const result = await this.apply(broker, decision, observation.passwords);
    phases.mark('apply');
    const passwords = new Map(observation.passwords);
    for (const credential of result.credentials)
      passwords.set(credential.user, credential.password);
    // What services read comes first, so a route is Ready only once its service can use it.
    await this.outputs.write({
      placements: decision.placements,
      passwords,
      routes: observation.routes,
      keptUsers: decision.keptUsers,
      configMaps: this.configMaps.list(),
      secrets: this.secrets.list(),
    });
    await this.rules.write(decision.live, observation.compiled.desired.routes);
    await this.writeEcosystem(observation, decision, passwords, broker);
    phases.mark('serviceOutputs');
    const settlement = settleTopology(observation, decision, result, this.autoscaling.outcomes);
    await this.settle(settlement);
    phases.mark('statuses');
    this.recordMetrics(decision, result, broker);
    this.options.log.info(
      {
        routes: decision.live.length,
        rejected: observation.compiled.rejected.size,
        applied: result.applied.length,
        failed: result.failed.length,
        brokerCalls: broker.calls,
        phasesMs: phases.done(),
      },
      'reconciled topology',
    );
    if (result.failed.length > 0)
      throw new Error(`${result.failed.length} broker changes failed: ${result.failed[0]!.error}`);
    return { requeueAfterMs: this.options.resyncMs };
  }

  /** Broker settings a retry cannot fix wait for the next resync, without backoff. */
  private brokerClient(): ManagementClient {
    try {
      return new ManagementClient(this.options.broker.managementUrls);
    } catch (error) {
      throw new TerminalError((error as Error).message, this.options.resyncMs);
    }
  }

  /** The caches, compiled, and what the broker has in the vhosts they concern. */
  private async observe(
    broker: ManagementClient,
  ): Promise<TopologyObservation & { brokerError?: unknown }> {
    const { defaultVhost } = this.options.broker;
    const routes = this.routes.list();
    const policies = this.policies.list();
    // Queue arguments follow the broker's version; unknown (unreachable) is reported below.
    const brokerVersion = await broker.brokerVersion().catch(() => undefined);
    const compiled = compileResilient(liveRoutes(routes), policies, {
      defaultVhost,
      brokerVersion,
    });
    const observed = {
      routes,
      policies,
      compiled,
      passwords: passwordsOf(this.secrets.list()),
      defaultVhost,
      finalizerTimeoutMs: this.options.finalizerTimeoutMs,
      now: new Date(),
    };
    try {
      if (brokerVersion === undefined) await broker.brokerVersion();
      const actual = await readActualState(
        broker,
        vhostsToRead(routes, compiled.desired, defaultVhost),
      );
      // Which cluster nodes are down is status, not a reason to fail the reconcile.
      const nodesDown = await readNodesDown(broker).catch(() => undefined);
      return { ...observed, broker: { actual, nodesDown } };
    } catch (error) {
      const unreachable = `broker ${broker.origin} unreachable: ${(error as Error).message}`;
      return { ...observed, broker: { unreachable }, brokerError: error };
    }
  }

  /** Ready goes False before a repair, so the drift is visible and recorded, not silently healed. */
  /**
   * Objects the broker's events say are gone: their routes say so now, with DriftDetected,
   * without waiting for the reconcile (and its read-back) that repairs them.
   */
  async announceDeleted(deleted: ReadonlyMap<string, readonly DeletedObject[]>): Promise<void> {
    await this.announceDrift(driftFromEvents(this.routes.list(), deleted, new Date()));
  }

  private async announceDrift(drift: DriftRepair[]) {
    for (const repair of drift) {
      for (const item of repair.missing)
        this.options.metrics.driftRepairs.inc({ object: item.kind });
      this.options.log.info(
        { route: resourceKey(repair.route), missing: describe(repair.missing) },
        'drift detected: recreating',
      );
      await this.writeStatus(repair.route, repair.status);
      await this.event(repair.route, repair.event);
    }
  }

  /** Every broker write of the reconcile: the plan (password rotations included). */
  private async apply(
    broker: ManagementClient,
    decision: TopologyDecision,
    known: ReadonlyMap<string, string>,
  ) {
    const probe = amqpQueueProbe(this.options.broker.amqpUrl);
    const result = await applyPlan(broker, decision.plan, {
      passwordFor: (user: UserObject) => known.get(user.name),
      probeQueue: probe.probe,
    }).finally(() => probe.close());
    for (const credential of result.credentials) {
      if (decision.rotated.includes(credential.user))
        this.options.log.info(
          { user: credential.user },
          'credentials Secret deleted: password rotated',
        );
    }
    return result;
  }

  /**
   * KEDA objects of the autoscaled routes (their outcomes go into the route statuses) and the
   * namespaces' AsyncAPI ConfigMaps. `passwords` gains any scaler password rotated here.
   */
  private async writeEcosystem(
    observation: TopologyObservation,
    decision: TopologyDecision,
    passwords: Map<string, string>,
    broker: ManagementClient,
  ) {
    const { desired, rejected } = observation.compiled;
    await this.autoscaling.reconcile({
      routes: decision.live.filter((route) => !rejected.has(resourceKey(route))),
      objects: new Map(desired.routes.map((objects) => [objects.route, objects])),
      passwords,
      secrets: this.secrets.list(),
      broker,
    });
    // The catalogue documents the topology: a refused one (over the 1 MiB ConfigMap limit at
    // some hundreds of routes in a namespace) must not hold up the routes' statuses.
    await this.catalogues
      .write(
        [
          decision.live.map((route) => route.metadata.namespace ?? 'default'),
          desired.services,
          desired.queues,
          this.options.broker.amqpUrl,
        ],
        this.configMaps.list(),
      )
      .catch((error) =>
        this.options.log.warn({ err: String(error) }, 'AsyncAPI catalogue not written'),
      );
  }

  /** Statuses, Events, RetryPolicy statuses, then the finalizers of deleted routes. */
  private async settle(settlement: TopologySettlement) {
    await this.writeRouteStatuses({ writes: settlement.statuses });
    await this.writePolicyStatuses(settlement.policyStatuses);
    await this.writeFinalizers(settlement.finalizers);
    if (settlement.recheckAfterMs !== undefined) this.enqueueAt(settlement.recheckAfterMs);
  }

  private countCalls(broker: ManagementClient) {
    this.options.metrics.brokerRequests.inc({ method: 'all' }, broker.calls);
    this.options.metrics.brokerNotFound.inc(broker.notFound);
  }

  private recordMetrics(decision: TopologyDecision, result: ApplyResult, broker: ManagementClient) {
    const { metrics } = this.options;
    this.countCalls(broker);
    metrics.brokerChanges.inc(result.applied.length);
    // The read-back covers every route: a deleted route's series go with it.
    if (!decision.unreachable)
      for (const gauge of [
        metrics.queueMessages,
        metrics.queueConsumers,
        metrics.deadLetterMessages,
      ])
        gauge.reset();
    for (const status of decision.readBack.values()) {
      const [namespace, route] = status.route.split('/') as [string, string];
      const labels = { namespace, route, queue: status.queue };
      if (status.depth !== undefined) metrics.queueMessages.set(labels, status.depth);
      if (status.consumers !== undefined) metrics.queueConsumers.set(labels, status.consumers);
      if (status.deadLetterDepth !== undefined)
        metrics.deadLetterMessages.set(labels, status.deadLetterDepth);
    }
  }

  private async writeRouteStatuses({ writes }: { writes: StatusWrite[] }) {
    await runLimited(writes, API_WRITE_CONCURRENCY, async ({ route, status, event }) => {
      await this.writeStatus(route, status);
      if (event) await this.event(route, event);
    });
  }

  private async writePolicyStatuses(writes: TopologySettlement['policyStatuses']) {
    for (const { policy, status } of writes) {
      const path = objectPath(
        'retrypolicies',
        policy.metadata.namespace ?? 'default',
        policy.metadata.name,
      );
      await patchStatus(this.options.client, path, status).catch((error) =>
        this.options.log.warn(
          { err: String(error), policy: resourceKey(policy) },
          'status write failed',
        ),
      );
    }
  }

  private enqueueAt(delayMs: number) {
    setTimeout(() => this.enqueue(), Math.max(0, delayMs) + 100).unref?.();
  }

  private async writeFinalizers(actions: FinalizerAction[]) {
    await runLimited(actions, API_WRITE_CONCURRENCY, async (change) => {
      if (change.action === 'remove') await this.event(change.route, change.event);
      await patchMetadata(this.options.client, routePath(change.route), change.route, {
        finalizers: finalizersWith(change.route, FINALIZER, change.action === 'add'),
      });
    });
  }

  private writeStatus(route: EventRoute, status: EventRouteStatus) {
    return patchStatus(this.options.client, routePath(route), status);
  }
}
