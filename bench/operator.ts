/**
 * Operator benchmark: N EventRoutes applied at once to a real kube-apiserver, reconciled onto
 * the real broker by the operator run as its own process (`node operator/dist/runtime/main.js`,
 * as in its container: run `npx tsc -b` first). Prints: create to all Ready, the operator's CPU
 * seconds, RSS converged and peak (its own process, from /proc), broker and Kubernetes writes,
 * an idle resync's calls and time, drift-to-repaired for queues deleted by hand, and the delete
 * pass (time, peak RSS, management calls answered 404, what is left of Warren's).
 *   eval "$(npm run -s infra -- env)"
 *   node --conditions=warren-source --import tsx bench/operator.ts [--routes 500] [--namespaces 1]
 *     [--queue-type classic|quorum] [--resync 15] [--drift 10]
 * WARREN_BENCH_OPERATOR_NODE_OPTIONS (the operator's NODE_OPTIONS), WARREN_BENCH_OPERATOR_NODE_ARGS
 * (node flags before the script), WARREN_HEAP_GROWING_PERCENT and glibc's MALLOC_* tunables reach
 * the operator process only.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  ControlPlane,
  createTestVhost,
  ensureKubeBinaries,
  managementRequest,
  repoRoot,
} from '@warren/testing';
import type { EventRoute } from '@warren/crds';
import { freePorts } from '../shared/testing/src/kube/proc';
import { KubeClient } from '../operator/src/kube/client';
import { runLimited } from '../operator/src/util/run-limited';

const { values } = parseArgs({
  options: {
    routes: { type: 'string', default: '500' },
    namespaces: { type: 'string', default: '1' },
    'queue-type': { type: 'string', default: 'classic' },
    resync: { type: 'string', default: '15' },
    drift: { type: 'string', default: '10' },
  },
});
const count = Number(values.routes);
const namespaces = Array.from({ length: Number(values.namespaces) }, (_, i) => `bench-${i}`);
const queueType = values['queue-type'] as 'classic' | 'quorum';
const driftCount = Math.min(Number(values.drift), count);
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
const mib1 = (bytes: number) => (bytes / 1048576).toFixed(1);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The process's own figures from /proc: RSS now and at its peak (KiB), CPU seconds. */
function processFigures(pid: number) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rss: kib('VmRSS'), peak: kib('VmHWM'), cpuSeconds: ticks / 100 };
}

/** Where the process's RSS is (KiB): mapped files (code), malloc's brk heap, other anonymous memory. */
function rssBreakdown(pid: number) {
  const sum = { files: 0, brk: 0, anonymous: 0 };
  let current: keyof typeof sum = 'anonymous';
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (mapping)
      current = mapping[2] === '[heap]' ? 'brk' : mapping[1] !== '0' ? 'files' : 'anonymous';
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) sum[current] += Number(rss[1]);
  }
  return sum;
}

/** How often a wait looks: listing every route every 250 ms loads the API server at thousands. */
const pollMs = Math.max(250, count / 2);

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let lastReport = Date.now();
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    if (Date.now() - lastReport > 15_000) {
      process.stderr.write(`  ... still waiting for ${what}\n`);
      lastReport = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main() {
  await ensureKubeBinaries();
  const plane = await ControlPlane.start();
  const vhost = await createTestVhost('bench_operator');
  const [port] = await freePorts(1);
  let child: ReturnType<typeof spawn> | undefined;
  try {
    await plane.installCrds(path.join(repoRoot, 'crds'));
    const admin = KubeClient.fromKubeconfigFile(plane.kubeconfigPath);
    const base = (ns: string) => `/apis/warren.dev/v1alpha1/namespaces/${ns}`;
    for (const ns of namespaces) {
      await admin.create('/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns },
      });
      await admin.create(`${base(ns)}/retrypolicies`, {
        apiVersion: 'warren.dev/v1alpha1',
        kind: 'RetryPolicy',
        metadata: { name: 'three-strikes' },
        spec: {
          maxAttempts: 3,
          backoff: { type: 'exponential', initialDelay: '1s', multiplier: 2, maxDelay: '30s' },
        },
      });
    }
    // WARREN_BENCH_OPERATOR_NODE_ARGS: node flags NODE_OPTIONS does not accept (V8's heap tuning).
    const nodeArgs = process.env.WARREN_BENCH_OPERATOR_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const main = path.join(repoRoot, 'operator/dist/runtime/main.js');
    child = spawn(process.execPath, [...nodeArgs, main], {
      env: {
        PATH: process.env.PATH,
        KUBECONFIG: plane.kubeconfigPath,
        RABBITMQ_URL: vhost.amqpUrl,
        RABBITMQ_MANAGEMENT_URL: vhost.managementUrl,
        WARREN_RESYNC_SECONDS: values.resync,
        WARREN_FINALIZER_TIMEOUT_SECONDS: '60',
        WARREN_HTTP_PORT: String(port),
        WARREN_LEASE_NAME: 'warren-bench',
        POD_NAMESPACE: 'default',
        POD_NAME: 'bench',
        WARREN_LOG_LEVEL: process.env.WARREN_LOG_LEVEL ?? 'warn',
        // Memory experiments on the operator alone: V8 flags, glibc's malloc arenas.
        ...(process.env.WARREN_BENCH_OPERATOR_NODE_OPTIONS && {
          NODE_OPTIONS: process.env.WARREN_BENCH_OPERATOR_NODE_OPTIONS,
        }),
        ...Object.fromEntries(
          Object.entries(process.env).filter(([name]) => name.startsWith('MALLOC_')),
        ),
        ...Object.fromEntries(
          ['WARREN_HEAP_GROWING_PERCENT', 'WARREN_IDLE_GC_MS']
            .filter((name) => process.env[name])
            .map((name) => [name, process.env[name]]),
        ),
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const pid = child.pid!;
    process.once('exit', () => child?.kill('SIGTERM'));
    for (const signal of ['SIGINT', 'SIGTERM'] as const)
      process.once(signal, () => process.exit(130));
    const metricsText = () => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    const metric = async (name: string) =>
      (await metricsText())
        .split('\n')
        .filter((line) => line.startsWith(name))
        .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    await waitFor(
      'the operator to lead',
      async () => (await metric('warren_leader')) === 1,
      60_000,
    );
    const idleStart = processFigures(pid);
    // Peak RSS per phase, sampled (VmHWM is the whole life's peak).
    let phasePeak = 0;
    const sampler = setInterval(() => {
      // The operator is gone once a wait has failed and it was stopped: that error is the news.
      if (fs.existsSync(`/proc/${pid}`)) phasePeak = Math.max(phasePeak, processFigures(pid).rss);
    }, 200);
    sampler.unref();

    // API-server writes (PATCH, POST, DELETE) by resource, e.g. "eventroutes/status" -> 12.
    const kubeWritesByResource = async () => {
      const byResource = new Map<string, number>();
      for (const line of (await metricsText()).split('\n')) {
        const m = line.match(
          /^warren_kube_api_requests_total\{method="(?:PATCH|POST|DELETE)",resource="([^"]*)"\} (\S+)$/,
        );
        if (m) byResource.set(m[1]!, (byResource.get(m[1]!) ?? 0) + Number(m[2]));
      }
      return byResource;
    };
    const total = (byResource: Map<string, number>) =>
      [...byResource.values()].reduce((sum, n) => sum + n, 0);
    const kubeWrites = async () => total(await kubeWritesByResource());
    const writesSince = (before: Map<string, number>, after: Map<string, number>) =>
      [...after]
        .map(([resource, n]) => [resource, n - (before.get(resource) ?? 0)] as const)
        .filter(([, n]) => n > 0)
        .map(([resource, n]) => `${resource} ${n}`)
        .join(', ') || 'none';
    const routeList = async () =>
      (
        await Promise.all(namespaces.map((ns) => admin.list<EventRoute>(`${base(ns)}/eventroutes`)))
      ).flatMap((list) => list.items);
    const isReady = (r: EventRoute) =>
      r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

    process.stderr.write(
      `creating ${count} EventRoutes in ${namespaces.length} namespaces (${queueType} queues) ...\n`,
    );
    const started = Date.now();
    await runLimited(
      Array.from({ length: count }, (_, i) => i),
      8,
      async (i) => {
        await admin.create(`${base(namespaces[i % namespaces.length]!)}/eventroutes`, {
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
      },
    );
    const created = Date.now();
    await waitFor(
      'every route Ready',
      async () => (await routeList()).filter(isReady).length === count,
      60 * 60_000,
    );
    const allReady = Date.now();
    const atReady = processFigures(pid);
    // Each phase as it ends, so a long run that fails later still leaves its figures.
    const progress = (text: string) => process.stderr.write(`  [bench] ${text}\n`);
    progress(
      `all Ready ${seconds(allReady - started)} after the first create; operator CPU ${(atReady.cpuSeconds - idleStart.cpuSeconds).toFixed(1)} s; RSS ${mib(atReady.rss)}, peak ${mib(phasePeak)}`,
    );
    const createPeak = phasePeak;
    const writes = {
      broker: await metric('warren_broker_changes_total'),
      kube: await kubeWrites(),
    };

    // Let late broker figures land, then measure one idle resync.
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    const reconciles = () => metric('warren_reconcile_total{kind="EventRoute",result="success"}');
    const settling = await reconciles();
    await waitFor('a settling resync', async () => (await reconciles()) >= settling + 1, 300_000);
    const sample = async () => ({
      reconciles: await reconciles(),
      calls: await metric('warren_broker_http_requests_total'),
      changes: await metric('warren_broker_changes_total'),
      kubeWritesByResource: await kubeWritesByResource(),
      kubeReads: await metric('warren_kube_api_requests_total{method="GET"'),
      seconds: await metric('warren_reconcile_duration_seconds_sum{kind="EventRoute"}'),
    });
    const before = await sample();
    await waitFor(
      'one idle resync',
      async () => (await reconciles()) >= before.reconciles + 1,
      300_000,
    );
    const after = await sample();
    const idleWrites = `${total(after.kubeWritesByResource) - total(before.kubeWritesByResource)} (${writesSince(before.kubeWritesByResource, after.kubeWritesByResource)})`;
    const atResync = processFigures(pid);
    // Converged: between resyncs, once the operator's idle collection (WARREN_IDLE_GC_MS, 1 s)
    // has run; a third of the resync period later, before the next one.
    await new Promise((resolve) => setTimeout(resolve, (Number(values.resync) * 1000) / 3));
    const converged = processFigures(pid);
    const where = rssBreakdown(pid);
    progress(
      `idle resync: ${after.calls - before.calls} management calls, ${seconds((after.seconds - before.seconds) * 1000)}; API-server writes ${idleWrites}; RSS ${mib(atResync.rss)} as it ends, ${mib(converged.rss)} converged`,
    );
    const heap = {
      used: await metric('warren_operator_nodejs_heap_size_used_bytes'),
      total: await metric('warren_operator_nodejs_heap_size_total_bytes'),
      external: await metric('warren_operator_nodejs_external_memory_bytes'),
    };
    // Where the heap V8 keeps goes: each space's committed and used size.
    const spaces = new Map<string, { total: number; used: number }>();
    for (const [, field, space, value] of (await metricsText()).matchAll(
      /^warren_operator_nodejs_heap_space_size_(total|used)_bytes\{space="(\w+)"\} (\d+)$/gm,
    )) {
      const entry = spaces.get(space!) ?? { total: 0, used: 0 };
      entry[field as 'total' | 'used'] = Number(value);
      spaces.set(space!, entry);
    }
    // With --heapsnapshot-signal=SIGUSR2 in WARREN_BENCH_OPERATOR_NODE_OPTIONS: a converged snapshot.
    if (process.env.WARREN_BENCH_OPERATOR_NODE_OPTIONS?.includes('--heapsnapshot-signal=SIGUSR2')) {
      process.kill(pid, 'SIGUSR2');
      await new Promise((resolve) => setTimeout(resolve, 15_000));
    }

    // Drift: consumer queues deleted by hand, until all are back and their routes Ready again.
    const v = encodeURIComponent(vhost.vhost);
    const queues = async () =>
      new Set(
        (
          await managementRequest<{ name: string }[]>(
            vhost.managementUrl,
            'GET',
            `/api/queues/${v}?disable_stats=true&columns=name`,
          )
        ).map((q) => q.name),
      );
    const drifted = Array.from({ length: driftCount }, (_, i) => `consumer-${i % 25}.route-${i}`);
    const driftStart = Date.now();
    for (const queue of drifted)
      await managementRequest(
        vhost.managementUrl,
        'DELETE',
        `/api/queues/${v}/${encodeURIComponent(queue)}`,
      );
    // Seen: each route of a deleted queue says BrokerObjectMissing (the broker's event is enough;
    // the repair waits for the reconcile's read-back).
    const sinceSecond = Math.floor(driftStart / 1000) * 1000; // conditions' times are in seconds
    const driftedRoute = (i: number) =>
      `${base(namespaces[i % namespaces.length]!)}/eventroutes/route-${i}`;
    await waitFor(
      'the drifted routes BrokerObjectMissing',
      async () =>
        (
          await Promise.all(
            drifted.map(async (_, i) => {
              const r = await admin.get<EventRoute>(driftedRoute(i));
              const condition = r.status?.conditions?.find((c) => c.type === 'Ready');
              // Or already repaired between two polls: Ready changed since the deletion.
              const changed = Date.parse(condition?.lastTransitionTime ?? '') >= sinceSecond;
              return condition?.reason === 'BrokerObjectMissing' || changed;
            }),
          )
        ).every(Boolean),
      300_000,
    );
    const driftSeen = Date.now() - driftStart;
    await waitFor(
      'the deleted queues back',
      async () => {
        const now = await queues();
        return drifted.every((q) => now.has(q));
      },
      300_000,
    );
    const driftRepaired = Date.now() - driftStart;
    progress(
      `drift: ${driftCount} routes BrokerObjectMissing (or already repaired) in ${seconds(driftSeen)}, queues back in ${seconds(driftRepaired)}`,
    );

    // Delete every route: the delete pass.
    phasePeak = 0;
    const notFoundBefore = await metric('warren_broker_http_not_found_total');
    const deleteStart = Date.now();
    const all = await routeList();
    await runLimited(all, 8, (r) =>
      admin.remove(`${base(r.metadata.namespace!)}/eventroutes/${r.metadata.name}`),
    );
    await waitFor('every route gone', async () => (await routeList()).length === 0, 60 * 60_000);
    // The services' ConfigMaps and Secrets the operator still has to remove, by name.
    const managedLeft = async () =>
      (
        await Promise.all(
          namespaces.flatMap((ns) =>
            ['configmaps', 'secrets'].map(async (plural) =>
              (
                await admin.list<{ metadata?: { name?: string } }>(
                  `/api/v1/namespaces/${ns}/${plural}`,
                  {
                    labelSelector: 'app.kubernetes.io/managed-by=warren',
                  },
                )
              ).items.map((item) => `${plural}/${ns}/${item.metadata?.name}`),
            ),
          ),
        )
      ).flat();
    let left: string[] = [];
    let lastCount = -1;
    await waitFor(
      'the service outputs gone',
      async () => {
        left = await managedLeft();
        if (left.length !== lastCount) progress(`service outputs left: ${left.length}`);
        lastCount = left.length;
        return left.length === 0;
      },
      600_000,
    ).catch((error: Error) => {
      progress(`left after 600 s (${left.length}): ${left.slice(0, 20).join(', ')}`);
      throw error;
    });
    const deleted = Date.now();
    const deletePeak = phasePeak;
    const notFound = (await metric('warren_broker_http_not_found_total')) - notFoundBefore;
    clearInterval(sampler);
    const end = processFigures(pid);

    const rows = [
      ['routes (namespaces)', `${count} (${namespaces.length})`],
      ['queue type', queueType],
      ['create calls to the API server', seconds(created - started)],
      ['first create -> all Ready', seconds(allReady - started)],
      [
        'operator CPU until all Ready',
        `${(atReady.cpuSeconds - idleStart.cpuSeconds).toFixed(1)} s`,
      ],
      ['broker writes until all Ready', String(writes.broker)],
      ['Kubernetes writes until all Ready (PATCH/POST/DELETE)', String(writes.kube)],
      ['RSS with no routes (after start)', mib(idleStart.rss)],
      ['RSS peak while creating', mib(createPeak)],
      ['RSS as an idle resync ends', mib(atResync.rss)],
      ['RSS converged (between idle resyncs)', mib(converged.rss)],
      [
        'converged RSS in files / malloc heap / other anonymous',
        [where.files, where.brk, where.anonymous].map(mib).join(' / '),
      ],
      [
        'converged heap used / heap total / external',
        [heap.used, heap.total, heap.external].map((bytes) => mib(bytes / 1024)).join(' / '),
      ],
      [
        'converged heap spaces, committed / used',
        [...spaces]
          .filter(([, { total }]) => total >= 512 * 1024)
          .map(([space, sizes]) => `${space} ${[sizes.total, sizes.used].map(mib1).join(' / ')}`)
          .join(', '),
      ],
      ['idle resync: broker writes (target 0)', String(after.changes - before.changes)],
      ['idle resync: management API calls', String(after.calls - before.calls)],
      ['idle resync: time', seconds((after.seconds - before.seconds) * 1000)],
      ['idle resync: API-server writes (by resource)', idleWrites],
      ['idle resync: API-server GETs', String(after.kubeReads - before.kubeReads)],
      [
        `drift: ${driftCount} queues deleted by hand -> their routes BrokerObjectMissing`,
        seconds(driftSeen),
      ],
      [`drift: ${driftCount} queues deleted by hand -> all back`, seconds(driftRepaired)],
      ['delete all routes -> routes and service outputs gone', seconds(deleted - deleteStart)],
      ['delete pass: management calls answered 404', String(notFound)],
      ['RSS peak while deleting', mib(deletePeak)],
      ['RSS peak (VmHWM, whole run)', mib(end.peak)],
      ['operator CPU, whole run', `${end.cpuSeconds.toFixed(1)} s`],
    ];
    const width = Math.max(...rows.map(([k]) => k!.length));
    process.stdout.write(`\n${rows.map(([k, v]) => `${k!.padEnd(width)}  ${v}`).join('\n')}\n`);
  } finally {
    child?.kill('SIGTERM');
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
