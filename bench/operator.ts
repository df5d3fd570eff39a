/**
 * Operator benchmark: N EventRoutes applied at once to a real kube-apiserver, reconciled onto
 * the real broker by an in-process operator. Prints: time until every route is Ready; an idle
 * resync's broker writes (target zero), management API calls and API-server writes; RSS.
 *   eval "$(npm run -s infra -- env)"
 *   node --conditions=warren-source --import tsx bench/operator.ts [--routes 500] [--queue-type classic|quorum]
 */
import { parseArgs } from 'node:util';
import { ControlPlane, createTestVhost, ensureKubeBinaries, repoRoot } from '@warren/testing';
import * as path from 'node:path';
import type { EventRoute } from '@warren/crds';
import { KubeClient } from '../operator/src/kube/client';
import { brokerSettings } from '../operator/src/broker/settings';
import { runOperator } from '../operator/src/runtime/operator';

const { values } = parseArgs({
  options: {
    routes: { type: 'string', default: '500' },
    'queue-type': { type: 'string', default: 'classic' },
  },
});
const count = Number(values.routes);
const queueType = values['queue-type'] as 'classic' | 'quorum';
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function metric(port: number, name: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let lastReport = Date.now();
  while (Date.now() < deadline) {
    if (await check()) return;
    if (Date.now() - lastReport > 15_000) {
      process.stderr.write(`  ... still waiting for ${what}\n`);
      lastReport = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main() {
  await ensureKubeBinaries();
  const plane = await ControlPlane.start();
  const vhost = await createTestVhost('bench_operator');
  try {
    await plane.installCrds(path.join(repoRoot, 'crds'));
    const admin = KubeClient.fromKubeconfigFile(plane.kubeconfigPath);
    const ns = 'bench';
    await admin.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns },
    });
    const base = `/apis/warren.dev/v1alpha1/namespaces/${ns}`;
    await admin.create(`${base}/retrypolicies`, {
      apiVersion: 'warren.dev/v1alpha1',
      kind: 'RetryPolicy',
      metadata: { name: 'three-strikes' },
      spec: {
        maxAttempts: 3,
        backoff: { type: 'exponential', initialDelay: '1s', multiplier: 2, maxDelay: '30s' },
      },
    });
    const rssBefore = process.memoryUsage().rss;
    const operator = await runOperator({
      kubeconfig: plane.kubeconfigPath,
      namespaces: [],
      resyncSeconds: 15,
      finalizerTimeoutSeconds: 60,
      leaseNamespace: 'default',
      leaseName: 'warren-bench',
      leaseDurationSeconds: 15,
      identity: 'bench',
      port: 0,
      broker: brokerSettings(
        {},
        { RABBITMQ_URL: vhost.amqpUrl, RABBITMQ_MANAGEMENT_URL: vhost.managementUrl },
      ),
      logLevel: process.env.WARREN_LOG_LEVEL ?? 'warn',
    });
    const port = (operator.server.address() as { port: number }).port;

    process.stderr.write(`creating ${count} EventRoutes (${queueType} queues) ...\n`);
    const started = Date.now();
    for (let i = 0; i < count; i++) {
      await admin.create(`${base}/eventroutes`, {
        apiVersion: 'warren.dev/v1alpha1',
        kind: 'EventRoute',
        metadata: { name: `route-${i}` },
        spec: {
          exchange: { name: `events-${i % 20}`, type: 'topic' },
          source: { service: `producer-${i % 10}` },
          events: [`thing-${i}.happened`],
          consumer: { service: `consumer-${i % 25}`, queueType },
          retryPolicyRef: { name: 'three-strikes' },
        },
      });
    }
    const created = Date.now();
    const readyCount = async () =>
      (await admin.list<EventRoute>(`${base}/eventroutes`)).items.filter((r) =>
        r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      ).length;
    await waitFor('every route Ready', async () => (await readyCount()) === count, 30 * 60_000);
    const allReady = Date.now();

    // Let late broker figures land, then measure one idle resync.
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    const reconciles = () =>
      metric(port, 'warren_reconcile_total{kind="EventRoute",result="success"}');
    const kubeWrites = async () =>
      (await metric(port, 'warren_kube_api_requests_total{method="PATCH"}')) +
      (await metric(port, 'warren_kube_api_requests_total{method="POST"}')) +
      (await metric(port, 'warren_kube_api_requests_total{method="DELETE"}'));
    // The pass running now may still write figures that came late: count from the next one.
    const settling = await reconciles();
    await waitFor('a settling resync', async () => (await reconciles()) >= settling + 1, 120_000);
    const before = {
      reconciles: await reconciles(),
      calls: await metric(port, 'warren_broker_http_requests_total'),
      changes: await metric(port, 'warren_broker_changes_total'),
      kubeWrites: await kubeWrites(),
      kubeReads: await metric(port, 'warren_kube_api_requests_total{method="GET"}'),
    };
    const rvBefore = (await admin.list<EventRoute>(`${base}/eventroutes`)).metadata.resourceVersion;
    await waitFor(
      'one idle resync',
      async () => (await reconciles()) >= before.reconciles + 1,
      120_000,
    );
    const after = {
      calls: await metric(port, 'warren_broker_http_requests_total'),
      changes: await metric(port, 'warren_broker_changes_total'),
      kubeWrites: await kubeWrites(),
      kubeReads: await metric(port, 'warren_kube_api_requests_total{method="GET"}'),
    };
    const routesAfter = await admin.list<EventRoute>(`${base}/eventroutes`);
    const apiWrites = routesAfter.items.filter(
      (r) => Number(r.metadata.resourceVersion) > Number(rvBefore),
    ).length;
    const rss = process.memoryUsage().rss;
    await operator.stop();

    const rows = [
      ['routes', String(count)],
      ['queue type', queueType],
      ['create calls to the API server', seconds(created - started)],
      ['first create -> all Ready', seconds(allReady - started)],
      ['idle resync: broker writes (target 0)', String(after.changes - before.changes)],
      ['idle resync: management API calls', String(after.calls - before.calls)],
      ['idle resync: EventRoutes changed', String(apiWrites)],
      [
        'idle resync: API-server writes (PATCH/POST/DELETE)',
        String(after.kubeWrites - before.kubeWrites),
      ],
      ['idle resync: API-server GETs', String(after.kubeReads - before.kubeReads)],
      ['RSS (bench process with operator in it)', mib(rss)],
      ['RSS before the operator started (baseline)', mib(rssBefore)],
    ];
    const width = Math.max(...rows.map(([k]) => k!.length));
    process.stdout.write(`\n${rows.map(([k, v]) => `${k!.padEnd(width)}  ${v}`).join('\n')}\n`);
  } finally {
    await vhost.dispose().catch(() => undefined);
    await plane.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`bench/operator: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
