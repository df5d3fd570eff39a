/**
 * `helm install` of the whole platform onto a real node: the images built here (npm run images),
 * the test run's RabbitMQ and PostgreSQL on the host (pods reach them through the node's
 * network). The operator pods start and one leads, the migration Jobs run `prisma migrate
 * deploy`, and every service pod passes its wait-for-migration initContainer and its /readyz.
 * Cold: the image build (about 10 min) and the node binaries; warm: a few minutes.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import {
  createTestDatabase,
  createTestVhost,
  kubectlImage,
  managementRequest,
  NodeCluster,
  type TestDatabase,
  type TestVhost,
} from '@warren/testing';
import {
  buildImages,
  loadImages,
  withImageBuilder,
  type BuiltImages,
} from '../../shared/testing/src/images';
import { waitUntil } from '../../shared/testing/src/kube/proc';
import { serviceUserName } from '../src/engine/naming';
import { KubeClient } from '../src/kube/client';

const run = promisify(execFile);
const chart = path.join(__dirname, '..', '..', 'charts', 'warren');
const RELEASE = 'warren';
const NAMESPACE = 'warren';
const SERVICES = ['user-service', 'order-service', 'notification-service'] as const;

jest.setTimeout(20 * 60_000);

let node: NodeCluster;
let admin: KubeClient;
let images: BuiltImages;
let vhost: TestVhost;
const databases: TestDatabase[] = [];
/** When `helm install` was started: the benchmark's origin. */
let installStartedAt = 0;
const log = (line: string) => process.stderr.write(`[in-cluster] ${line}\n`);

/** A URL of the host's loopback, as the node's pods reach it. */
function fromPods(url: string): string {
  const parsed = new URL(url);
  if (['127.0.0.1', 'localhost'].includes(parsed.hostname)) parsed.hostname = node.hostAddress;
  return parsed.toString();
}

interface Condition {
  type: string;
  status: string;
  message?: string;
}
interface Listed<T> {
  items: T[];
}
interface Deployment {
  metadata: { name: string };
  status?: { conditions?: Condition[]; availableReplicas?: number };
}

const helm = (...args: string[]) =>
  run(node.plane.binaries.helm as string, args, { env: node.env, maxBuffer: 16 << 20 });

beforeAll(async () => {
  const started = Date.now();
  // The image builder is shared with the images suite (a parallel worker): one user at a time.
  await withImageBuilder(async () => {
    images = await buildImages({ keepBuilder: true, log });
    log(`images ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    node = await NodeCluster.start({ log });
    const kubectl = kubectlImage(
      node.plane.binaries.kubectl as string,
      node.plane.kubernetesVersion,
    );
    await node.importImage(kubectl.archive);
    const loadMs = await loadImages(images.refs, { containerdSocket: node.containerdSocket, log });
    log(`images loaded into the node in ${(loadMs / 1000).toFixed(1)} s`);
  }, log);
  admin = KubeClient.fromKubeconfigFile(node.kubeconfigPath);
  vhost = await createTestVhost('incluster');
  for (const service of SERVICES) databases.push(await createTestDatabase(service.split('-')[0]));
});

afterAll(async () => {
  await node?.stop();
  await vhost?.dispose();
  for (const database of databases) await database.dispose();
});

test('helm install: the operator leads, the migrations run, every Deployment is Available', async () => {
  await admin.create('/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NAMESPACE },
  });
  const secret = (name: string, stringData: Record<string, string>) =>
    admin.create(`/api/v1/namespaces/${NAMESPACE}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: NAMESPACE },
      stringData,
    });
  await secret('warren-broker', {
    url: fromPods(vhost.amqpUrl),
    managementUrl: fromPods(vhost.managementUrl),
  });
  for (const [index, service] of SERVICES.entries())
    await secret(`${service}-db`, { DATABASE_URL: fromPods(databases[index].url) });

  const [registry, tag] = [images.operator.ref.split('/')[0], images.operator.ref.split(':').pop()];
  const kubectlRef = kubectlImage(
    node.plane.binaries.kubectl as string,
    node.plane.kubernetesVersion,
  ).name;
  installStartedAt = Date.now();
  const installed = await helm(
    'install',
    RELEASE,
    chart,
    '--namespace',
    NAMESPACE,
    '--set',
    [
      `operator.image=${images.operator.ref}`,
      'operator.imagePullPolicy=Never',
      `services.image.registry=${registry}`,
      `services.image.tag=${tag}`,
      'services.image.pullPolicy=Never',
      `services.waitForMigration.image=${kubectlRef}`,
      'services.replicas=1',
    ].join(','),
  );
  expect(installed.stdout).toContain('STATUS: deployed');

  // Every Deployment of the chart: the operator's two replicas and the three services.
  const deployments = async () =>
    (await admin.get<Listed<Deployment>>(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments`))
      .items;
  const allAvailable = await waitUntil(
    async () => {
      const items = await deployments();
      return (
        items.length === 1 + SERVICES.length &&
        items.every((d) =>
          d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True'),
        )
      );
    },
    10 * 60_000,
    2000,
  );
  const summary = (await deployments()).map(
    (d) =>
      `${d.metadata.name}: ${d.status?.availableReplicas ?? 0} available ${JSON.stringify(d.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.message ?? ''}`))}`,
  );
  expect({ allAvailable, summary }).toEqual({ allAvailable: true, summary });

  // One operator replica holds the lease.
  const lease = await admin.get<{ spec: { holderIdentity?: string } }>(
    `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${RELEASE}-operator`,
  );
  const operatorPods = (
    await admin.get<Listed<{ metadata: { name: string } }>>(
      `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent('app.kubernetes.io/component=operator')}`,
    )
  ).items.map((p) => p.metadata.name);
  expect(operatorPods).toContain(lease.spec.holderIdentity);

  // The migrations ran for real: every DatabaseMigration is Ready, its Job complete.
  const migrations = await admin.get<
    Listed<{ metadata: { name: string }; status?: { conditions?: Condition[] } }>
  >(`/apis/warren.dev/v1alpha1/namespaces/${NAMESPACE}/databasemigrations`);
  expect(
    migrations.items
      .map((m) => [m.metadata.name, m.status?.conditions?.find((c) => c.type === 'Ready')?.status])
      .sort(),
  ).toEqual(SERVICES.map((service) => [service, 'True']).sort());
  const jobs = await admin.get<Listed<{ status?: { succeeded?: number } }>>(
    `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`,
  );
  expect(jobs.items.length).toBeGreaterThanOrEqual(SERVICES.length);
  expect(jobs.items.every((job) => (job.status?.succeeded ?? 0) >= 1)).toBe(true);
});

/** A JSON answer of one of the services, called through its Service's ClusterIP from the node. */
async function callService<T>(
  service: (typeof SERVICES)[number],
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const { spec } = await admin.get<{ spec: { clusterIP: string; ports: { port: number }[] } }>(
    `/api/v1/namespaces/${NAMESPACE}/services/${service}`,
  );
  const response = await node.fetchInNode(
    `http://${spec.clusterIP}:${spec.ports[0].port}${urlPath}`,
    {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    },
  );
  return { status: response.status, json: JSON.parse(response.body || 'null') as T };
}

/** Polls `read` until `done` holds for its value; returns the last value either way. */
async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
) {
  let last: T | undefined;
  await waitUntil(
    async () => {
      last = await read();
      return done(last);
    },
    timeoutMs,
    1000,
  );
  return last as T;
}

interface Order {
  id: string;
  status: string;
}

test('through the Services: a user registers and is welcomed, an order is CONFIRMED, each service as its own broker user', async () => {
  const email = `ada-${Date.now()}@example.com`;
  const registered = await callService<{ id: string; email: string }>(
    'user-service',
    'POST',
    '/users',
    {
      email,
      name: 'Ada Lovelace',
    },
  );
  expect(registered).toMatchObject({ status: 201, json: { email } });
  const userId = registered.json.id;

  const welcomed = await eventually(
    () =>
      callService<{ kind: string }[]>(
        'notification-service',
        'GET',
        `/notifications?userId=${userId}`,
      ),
    (answer) => answer.status === 200 && answer.json.some((n) => n.kind === 'welcome'),
  );
  expect(welcomed.json.map((n) => n.kind)).toContain('welcome');

  const placed = await callService<Order>('order-service', 'POST', '/orders', {
    userId,
    items: [{ sku: 'BOOK-42', quantity: 2, unitPrice: 12.5 }],
  });
  expect(placed).toMatchObject({ status: 201, json: { status: 'PENDING' } });
  const decided = await eventually(
    () => callService<Order>('order-service', 'GET', `/orders/${placed.json.id}`),
    (answer) => answer.json?.status !== 'PENDING',
  );
  expect(decided.json.status).toBe('CONFIRMED');
  const firstConfirmedMs = Date.now() - installStartedAt;
  log(`helm install -> first CONFIRMED order: ${(firstConfirmedMs / 1000).toFixed(1)} s`);
  const notified = await eventually(
    () =>
      callService<{ kind: string }[]>(
        'notification-service',
        'GET',
        `/notifications?userId=${userId}`,
      ),
    (answer) => answer.json.some((n) => n.kind === 'order-confirmed'),
  );
  expect(notified.json.map((n) => n.kind).sort()).toEqual(['order-confirmed', 'welcome']);

  // The pods connect with the per-service users the operator made (not the admin of the Secret).
  const connections = await managementRequest<{ user: string }[]>(
    vhost.managementUrl,
    'GET',
    `/api/vhosts/${encodeURIComponent(vhost.vhost)}/connections`,
  );
  expect([...new Set(connections.map((c) => c.user))].sort()).toEqual(
    SERVICES.map((service) => serviceUserName(service, vhost.vhost)).sort(),
  );
});
