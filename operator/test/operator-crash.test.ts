/**
 * The operator as a real process, killed with SIGKILL in the middle of a reconcile (broker
 * objects half made, statuses and Secrets not yet written), then started again as a new pod:
 * it converges, and every service's Secret holds credentials the broker accepts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as amqp from 'amqplib';
import { eventually, managementRequest, repoRoot } from '@warren/testing';
import type { EventRoute } from '@warren/crds';
import { startOperatorTestEnv, type OperatorTestEnv } from './support/operator-env';

jest.setTimeout(300_000);

const ROUTES = 60;
const SERVICES = 6;
let env: OperatorTestEnv;
const children: ChildProcess[] = [];

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

/** `node operator/src/runtime/main.ts` as its own process, the way the chart runs it. */
async function startOperatorProcess(identity: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--conditions=warren-source', '--import', 'tsx', 'operator/src/runtime/main.ts'],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        KUBECONFIG: env.plane.kubeconfigPath,
        RABBITMQ_URL: env.vhost.amqpUrl,
        RABBITMQ_MANAGEMENT_URL: env.vhost.managementUrl,
        POD_NAME: identity,
        POD_NAMESPACE: 'default',
        WARREN_HTTP_PORT: String(await freePort()),
        WARREN_RESYNC_SECONDS: '2',
        WARREN_LEASE_DURATION_SECONDS: '4',
        WARREN_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  children.push(child);
  return child;
}

const routesPath = () => `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes`;
const readyCount = async () =>
  (await env.admin.list<EventRoute>(routesPath())).items.filter((r) =>
    r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  ).length;
const queueNames = async () =>
  (
    await managementRequest<{ name: string }[]>(
      env.vhost.managementUrl,
      'GET',
      `/api/queues/${encodeURIComponent(env.vhost.vhost)}?columns=name`,
    )
  ).map((q) => q.name);

beforeAll(async () => {
  env = await startOperatorTestEnv('crash');
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await env?.dispose();
});

it('converges after a SIGKILL in the middle of a reconcile, with working credentials for every service', async () => {
  const base = `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}`;
  await env.admin.create(`${base}/retrypolicies`, {
    apiVersion: 'warren.dev/v1alpha1',
    kind: 'RetryPolicy',
    metadata: { name: 'twice' },
    spec: { maxAttempts: 2, backoff: { type: 'fixed', initialDelay: '1s' } },
  });
  for (let i = 0; i < ROUTES; i++) {
    await env.admin.create(`${base}/eventroutes`, {
      apiVersion: 'warren.dev/v1alpha1',
      kind: 'EventRoute',
      metadata: { name: `route-${i}` },
      spec: {
        exchange: { name: `events-${i % 5}`, type: 'topic' },
        source: { service: `producer-${i % 3}` },
        events: [`thing-${i}.happened`],
        consumer: { service: `consumer-${i % SERVICES}`, queueType: 'classic' },
        retryPolicyRef: { name: 'twice' },
      },
    });
  }
  // Per route: the queue, its retry queue and its dead-letter queue.
  const expectedQueues = ROUTES * 3;

  const first = await startOperatorProcess('operator-a');
  // Killed as soon as the broker shows the first of its queues: the apply has begun, and no
  // route can be Ready yet (statuses are written after the broker and the Secrets).
  const seen = await eventually('the first queues on the broker', async () => {
    const names = await queueNames();
    return names.length > 0 && names.length;
  });
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  const readyAtKill = await readyCount();
  expect(readyAtKill).toBeLessThan(ROUTES);
  process.stderr.write(
    `killed with ${seen} of ${expectedQueues} queues on the broker and ${readyAtKill} of ${ROUTES} routes Ready\n`,
  );

  // A new pod: it waits out the dead leader's Lease (4 s), then finishes the work.
  const second = await startOperatorProcess('operator-b');
  await eventually('every route Ready', async () => (await readyCount()) === ROUTES, 180_000);
  expect((await queueNames()).filter((name) => name.startsWith('consumer-'))).toHaveLength(
    expectedQueues,
  );

  // Users made before the kill had their passwords only in the dead process: each Secret the
  // new leader wrote must open a connection, and only to the service's own queues.
  for (let s = 0; s < SERVICES; s++) {
    const secret = await env.admin.get<{ data: Record<string, string> }>(
      `/api/v1/namespaces/${env.namespace}/secrets/warren-broker-consumer-${s}`,
    );
    const url = Buffer.from(secret.data.url!, 'base64').toString('utf8');
    const connection = await amqp.connect(url);
    try {
      const channel = await connection.createChannel();
      const own = await channel.checkQueue(`consumer-${s}.route-${s}`);
      expect(own.queue).toBe(`consumer-${s}.route-${s}`);
      const other = await connection.createChannel();
      other.on('error', () => undefined);
      await expect(
        other.consume(`consumer-${(s + 1) % SERVICES}.route-${s + 1}`, () => undefined),
      ).rejects.toThrow(/ACCESS-REFUSED/);
    } finally {
      await connection.close().catch(() => undefined);
    }
  }

  second.kill('SIGTERM');
  expect(await new Promise((resolve) => second.once('exit', resolve))).toBe(0);
});
