/**
 * The operator process: informers feed the work queues (one key for the whole topology, one
 * key per DatabaseMigration); only the replica holding the Lease reconciles; `/healthz`, `/readyz` and `/metrics` are served by every replica.
 */
import * as os from 'node:os';
import type * as http from 'node:http';
import { brokerSettings, type BrokerSettings } from '../broker/settings';
import { MigrationController } from '../controller/migration-controller';
import { DEFAULT_JOB_SETTINGS } from '../controller/migration-job';
import { BrokerDriftWatch } from '../controller/broker-drift-watch';
import { TopologyController } from '../controller/topology-controller';
import { KubeClient } from '../kube/client';
import { EventRecorder } from '../kube/events';
import { LeaderElector } from '../kube/leader-election';
import { reconcileRunner } from '../kube/reconcile-runner';
import type { WorkQueue } from '../kube/work-queue';
import { startHealthServer } from '../observability/http-server';
import { createLogger, redactUrl } from '../observability/log';
import { createOperatorMetrics } from '../observability/metrics';

export interface OperatorConfig {
  kubeconfig?: string;
  namespaces: string[];
  resyncSeconds: number;
  finalizerTimeoutSeconds: number;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationSeconds: number;
  identity: string;
  port: number;
  /** Delay before a failed DatabaseMigration runs again (doubled per failure); default 10. */
  migrationRetrySeconds?: number;
  /** Finished migration Jobs are deleted by Kubernetes after this long; default 86400. */
  migrationJobTtlSeconds?: number;
  /** Write a PrometheusRule per route when the Prometheus Operator API exists; default true. */
  prometheusRules?: boolean;
  /** Where the broker is (RABBITMQ_URL / RABBITMQ_MANAGEMENT_URL). */
  broker: BrokerSettings;
  /** WARREN_LOG_LEVEL; default info. */
  logLevel?: string;
  /** WARREN_BROKER_EVENTS: listen to the broker's events to repair drift in seconds; default true. */
  brokerEvents?: boolean;
  /** WARREN_BROKER_EVENTS_VHOST: the vhost of amq.rabbitmq.event; default `/`. */
  brokerEventsVhost?: string;
  /** Called as each reconcile ends (main.ts schedules an idle heap collection on it). */
  afterReconcile?: () => void;
}

const number = (env: NodeJS.ProcessEnv, name: string, fallback: number) => {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name}=${raw} must be a positive number`);
  return value;
};

const flag = (env: NodeJS.ProcessEnv, name: string, fallback: boolean) => {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'true' && raw !== 'false') throw new Error(`${name}=${raw} must be true or false`);
  return raw === 'true';
};

/** Settings from the environment (every variable is documented in the README). */
export function operatorConfigFromEnv(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  return {
    kubeconfig: env.KUBECONFIG,
    namespaces: (env.WARREN_WATCH_NAMESPACES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    resyncSeconds: number(env, 'WARREN_RESYNC_SECONDS', 60),
    finalizerTimeoutSeconds: number(env, 'WARREN_FINALIZER_TIMEOUT_SECONDS', 300),
    leaseNamespace: env.POD_NAMESPACE ?? 'default',
    leaseName: env.WARREN_LEASE_NAME ?? 'warren-operator',
    leaseDurationSeconds: number(env, 'WARREN_LEASE_DURATION_SECONDS', 15),
    identity: env.POD_NAME ?? `${os.hostname()}-${process.pid}`,
    port: number(env, 'WARREN_HTTP_PORT', 8080),
    migrationRetrySeconds: number(env, 'WARREN_MIGRATION_RETRY_SECONDS', 10),
    migrationJobTtlSeconds: number(
      env,
      'WARREN_MIGRATION_JOB_TTL_SECONDS',
      DEFAULT_JOB_SETTINGS.ttlSecondsAfterFinished,
    ),
    prometheusRules: flag(env, 'WARREN_PROMETHEUS_RULES', true),
    broker: brokerSettings({}, env),
    logLevel: env.WARREN_LOG_LEVEL,
    brokerEvents: flag(env, 'WARREN_BROKER_EVENTS', true),
    brokerEventsVhost: env.WARREN_BROKER_EVENTS_VHOST || '/',
  };
}

export interface RunningOperator {
  server: http.Server;
  isLeader(): boolean;
  stop(): Promise<void>;
}

const TOPOLOGY_KEY = 'topology';

export async function runOperator(config: OperatorConfig): Promise<RunningOperator> {
  const { broker } = config;
  const log = createLogger('operator', config.logLevel);
  const metrics = createOperatorMetrics();
  const client = KubeClient.fromKubeconfigFile(config.kubeconfig);
  client.onRequest = (method, resource) => metrics.kubeRequests.inc({ method, resource });
  const events = new EventRecorder(client, 'warren-operator');
  log.info(
    {
      broker: broker.managementUrls.map(redactUrl),
      namespaces: config.namespaces,
      identity: config.identity,
    },
    'starting',
  );

  let queue: WorkQueue | undefined;
  /** The shutdown of the queues of a lost leadership: `stop()` waits for their reconciles to end. */
  let draining: Promise<void> | undefined;
  const enqueue = () => queue?.add(TOPOLOGY_KEY);
  const driftWatch =
    config.brokerEvents === false
      ? undefined
      : new BrokerDriftWatch({
          amqpUrl: broker.amqpUrl,
          vhost: config.brokerEventsVhost ?? '/',
          metrics,
          log,
          enqueue,
          onDeleted: (deleted) =>
            void controller
              .announceDeleted(deleted)
              .catch((error: unknown) =>
                log.warn({ err: String(error) }, 'drift not announced; the reconcile will'),
              ),
        });
  const controller = new TopologyController(
    {
      client,
      broker,
      namespaces: config.namespaces,
      resyncMs: config.resyncSeconds * 1000,
      finalizerTimeoutMs: config.finalizerTimeoutSeconds * 1000,
      prometheusRules: config.prometheusRules,
      onDesired: (desired) => driftWatch?.track(desired),
      metrics,
      events,
      log,
    },
    enqueue,
  );

  let migrationQueue: WorkQueue | undefined;
  const migrations = new MigrationController(
    {
      client,
      namespaces: config.namespaces,
      resyncMs: config.resyncSeconds * 1000,
      retryBaseMs: (config.migrationRetrySeconds ?? 10) * 1000,
      ...(config.migrationJobTtlSeconds && {
        jobSettings: { ttlSecondsAfterFinished: config.migrationJobTtlSeconds },
      }),
      metrics,
      events,
      log,
    },
    (key) => migrationQueue?.add(key),
  );

  const startMigrationWork = () => {
    migrationQueue = reconcileRunner({
      kind: 'DatabaseMigration',
      reconcile: (key) => migrations.reconcile(key),
      describeKey: (key) => ({ migration: key }),
      concurrency: 2,
      metrics,
      log,
      afterEach: config.afterReconcile,
    });
    for (const key of migrations.keys()) migrationQueue.add(key);
  };

  const startWork = () => {
    queue = reconcileRunner({
      kind: 'EventRoute',
      reconcile: () => controller.reconcile(),
      concurrency: 1,
      reportsDepth: true,
      metrics,
      log,
      afterEach: config.afterReconcile,
    });
    enqueue();
  };

  const elector = new LeaderElector({
    client,
    namespace: config.leaseNamespace,
    leaseName: config.leaseName,
    identity: config.identity,
    leaseDurationSeconds: config.leaseDurationSeconds,
    renewIntervalMs: (config.leaseDurationSeconds * 1000) / 3,
    retryIntervalMs: 1000,
    onStartedLeading: () => {
      metrics.leader.set(1);
      startWork();
      startMigrationWork();
      driftWatch?.start();
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      void driftWatch?.stop();
      draining = Promise.all([queue?.shutDown(), migrationQueue?.shutDown()]).then(() => undefined);
      queue = undefined;
      migrationQueue = undefined;
    },
    log: (message) => log.info(message),
  });

  const server = await startHealthServer({
    port: config.port,
    registry: metrics.registry,
    alive: () => true,
    notReadyReason: () =>
      controller.isSynced && migrations.isSynced ? undefined : 'caches not synced',
    conditions: () => [
      driftWatch?.condition ?? {
        name: 'broker-events',
        ok: false,
        message:
          'turned off (WARREN_BROKER_EVENTS=false): drift is found at the periodic read-back only',
      },
    ],
  });
  try {
    await Promise.all([controller.start(), migrations.start()]);
  } catch (error) {
    controller.stop();
    migrations.stop();
    server.close();
    throw error;
  }
  elector.start();
  log.info({ port: config.port }, 'caches synced; serving /healthz /readyz /metrics');

  return {
    server,
    isLeader: () => elector.isLeader,
    async stop() {
      await elector.stop();
      await driftWatch?.stop();
      await Promise.all([queue?.shutDown(), migrationQueue?.shutDown(), draining]);
      controller.stop();
      migrations.stop();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
