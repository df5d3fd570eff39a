/**
 * `helm install` of the whole platform onto a real node: the images built here (npm run images),
 * the test run's RabbitMQ and PostgreSQL on the host (pods reach them through the node's
 * network). The operator pods start and one leads, the migration Jobs run `prisma migrate
 * deploy`, and every service pod passes its wait-for-migration initContainer and its /readyz.
 * KEDA's own operator runs beside it and scales a consumer with its route's queue.
 * Cold: the image build (about 10 min) and the node binaries; warm: a few minutes.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import {
  createTestDatabase,
  createTestVhost,
  eventually,
  kubectlImage,
  managementRequest,
  NodeCluster,
  queryDatabase,
  type TestDatabase,
  type TestVhost,
} from '@warren/testing';
import {
  buildImages,
  Dockerd,
  loadImages,
  withImageBuilder,
  type BuiltImages,
} from '../../shared/testing/src/images';
import { installKedaOperator } from '../../shared/testing/src/kube/keda-operator';
import { sleep, waitUntil } from '../../shared/testing/src/kube/proc';
import { PAUSED_ANNOTATION } from '../src/controller/annotations';
import { consumerQueueName, serviceUserName } from '../src/engine/naming';
import { KubeClient } from '../src/kube/client';

const run = promisify(execFile);
const chart = path.join(__dirname, '..', '..', 'charts', 'warren');
const RELEASE = 'warren';
const NAMESPACE = 'warren';
const SERVICES = ['user-service', 'order-service', 'notification-service'] as const;
const ORDER_TIMEOUT_MS = 5 * 60_000;

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
  reason?: string;
  message?: string;
}
interface Listed<T> {
  items: T[];
}
interface Deployment {
  metadata: { name: string };
  status?: { conditions?: Condition[]; availableReplicas?: number };
}

/** The migration every failing-image run stops at, and the error Prisma prints for it. */
const FAILING_MIGRATION = {
  name: '29991231000000_fails',
  sql: 'ALTER TABLE "no_such_table" ADD COLUMN "x" INTEGER;\n',
  error: 'No such table: no_such_table', // Prisma's schema engine, in the Job's output
};
let failingImage: string;

/** `ref` plus one migration that fails: a two-line build on the running builder, no network. */
async function buildFailingMigrationImage(ref: string): Promise<string> {
  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-failing-migration-'));
  try {
    fs.writeFileSync(
      path.join(context, 'Dockerfile'),
      `FROM ${ref}\nCOPY migration.sql prisma/migrations/${FAILING_MIGRATION.name}/migration.sql\n`,
    );
    fs.writeFileSync(path.join(context, 'migration.sql'), FAILING_MIGRATION.sql);
    const failing = ref.replace(/:[^:/]+$/, ':failing-migration');
    const dockerd = Dockerd.open();
    if (!dockerd) throw new Error('the image builder is not running');
    const built = await dockerd.docker(['build', '--network', 'host', '-t', failing, context]);
    if (built.code !== 0) throw new Error(`building ${failing} failed: ${built.stderr}`);
    return failing;
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
}

const helm = (...args: string[]) =>
  run(node.plane.binaries.helm as string, args, { env: node.env, maxBuffer: 16 << 20 });

beforeAll(async () => {
  const started = Date.now();
  // The image builder is shared with the images suite (a parallel worker): one user at a time.
  await withImageBuilder(async () => {
    images = await buildImages({ keepBuilder: true, log });
    failingImage = await buildFailingMigrationImage(images.services['notification-service'].ref);
    log(`images ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    node = await NodeCluster.start({ log });
    const kubectl = kubectlImage(
      node.plane.binaries.kubectl as string,
      node.plane.kubernetesVersion,
    );
    await node.importImage(kubectl.archive);
    // One `docker save`: the failing image adds only its one small layer.
    const loadMs = await loadImages([...images.refs, failingImage], {
      containerdSocket: node.containerdSocket,
      log,
    });
    log(`images loaded into the node in ${(loadMs / 1000).toFixed(1)} s`);
  }, log);
  // Before the chart: the operator looks for the keda.sh API when it starts.
  await installKedaOperator(node, log);
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
    // The saga's timeout must not race the crashed order-service's replacement on a busy machine
    // (the chart's 30 s): the killed-pod step's order is to be CONFIRMED, not timed out.
    '--set-string',
    `services.apps.order-service.env.ORDER_TIMEOUT_MS=${ORDER_TIMEOUT_MS}`,
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

  // kube-proxy programs a Service's endpoints a moment after its pods are Ready (CI saw a
  // ClusterIP refuse connections right after Available, the node busy loading images): every
  // Service answers before the tests that call them through it.
  const routed = Date.now();
  for (const service of SERVICES) {
    await eventually(
      `${service} to answer /healthz through its Service`,
      async () =>
        (await callService(service, 'GET', '/healthz').catch(() => undefined))?.status === 200,
      60_000,
      500,
    );
  }
  log(
    `benchmark: every Service answering through its ClusterIP ${Date.now() - routed} ms after all Available`,
  );
});

const mb = (bytes: number | undefined) =>
  bytes === undefined ? 'n/a' : `${(bytes / (1 << 20)).toFixed(1)} MiB`;

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

interface Order {
  id: string;
  status: string;
  history: { type: string; toStatus: string }[];
}

/** POST /orders through the Service: the order is accepted PENDING. */
async function placeOrder(userId: string): Promise<Order> {
  const placed = await callService<Order>('order-service', 'POST', '/orders', {
    userId,
    items: [{ sku: 'BOOK-42', quantity: 2, unitPrice: 12.5 }],
  });
  expect(placed).toMatchObject({ status: 201, json: { status: 'PENDING' } });
  return placed.json;
}

/** The order once the saga decided it (it left PENDING). */
const decidedOrder = (orderId: string, timeoutMs = 60_000) =>
  eventually(
    `the saga to decide order ${orderId}`,
    async () => {
      const answer = await callService<Order>('order-service', 'GET', `/orders/${orderId}`);
      return answer.json?.status !== 'PENDING' && answer.json;
    },
    timeoutMs,
    500,
  );

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

  const notifications = async (kind: string) => {
    const answer = await callService<{ kind: string }[]>(
      'notification-service',
      'GET',
      `/notifications?userId=${userId}`,
    );
    return answer.status === 200 && answer.json.some((n) => n.kind === kind) && answer.json;
  };
  await eventually('the welcome notification', () => notifications('welcome'), 60_000, 1000);

  const placed = await placeOrder(userId);
  const decided = await decidedOrder(placed.id);
  expect(decided.status).toBe('CONFIRMED');
  const firstConfirmedMs = Date.now() - installStartedAt;
  log(
    `benchmark: helm install -> first CONFIRMED order: ${(firstConfirmedMs / 1000).toFixed(1)} s`,
  );
  for (const { pod, rssBytes } of await operatorMemory())
    log(`benchmark: operator pod ${pod}: RSS ${mb(rssBytes)}`);
  for (const image of [images.base, images.operator, ...Object.values(images.services)])
    log(`benchmark: image ${image.ref}: ${mb(image.sizeBytes)}`);
  const notified = await eventually(
    'the order-confirmed notification',
    () => notifications('order-confirmed'),
    60_000,
    1000,
  );
  expect(notified.map((n) => n.kind).sort()).toEqual(['order-confirmed', 'welcome']);

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

interface Pod {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: { containers: { image: string }[] };
  status?: {
    conditions?: Condition[];
    containerStatuses?: { state?: { running?: { startedAt: string } } }[];
  };
}
interface Migration {
  metadata: { name: string; generation: number };
  status?: { conditions?: (Condition & { observedGeneration?: number })[]; lastJobName?: string };
}

const componentPods = async (component: string) =>
  (
    await admin.get<Listed<Pod>>(
      `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/component=${component}`)}`,
    )
  ).items.filter((pod) => !pod.metadata.deletionTimestamp);

const podReady = (pod: Pod) =>
  Boolean(pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

const listMigrations = async () =>
  (
    await admin.get<Listed<Migration>>(
      `/apis/warren.dev/v1alpha1/namespaces/${NAMESPACE}/databasemigrations`,
    )
  ).items;

/** The `type` condition of `object` when it is True for the object's current generation. */
const trueNow = (object: Migration | Route, type: string) =>
  object.status?.conditions?.find(
    (c) =>
      c.type === type && c.status === 'True' && c.observedGeneration === object.metadata.generation,
  );

/** A file of /proc/<pid>, or '' once the process is gone. */
function procFile(pid: string, file: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return ''; // gone meanwhile
  }
}

/**
 * The pid of a pod's `node` process (its comm is MainThread), from /proc: the node's processes
 * are the host's too, and each one's cgroup path names its pod (`.../pod<uid>/<id>`).
 */
function podNodeProcess(podUid: string): string | undefined {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .find(
      (pid) =>
        path.basename(procFile(pid, 'cmdline').split('\0')[0]) === 'node' && // not the pause process
        procFile(pid, 'cgroup').includes(`pod${podUid}/`),
    );
}

/**
 * The RSS of each operator pod's `node` process, from its /proc status.
 * (The API server's node proxy to the kubelet's stats/summary refuses the node's loopback address.)
 */
async function operatorMemory(): Promise<{ pod: string; rssBytes?: number }[]> {
  return (await componentPods('operator')).map(({ metadata }) => {
    const pid = podNodeProcess(metadata.uid);
    const kib = pid ? procFile(pid, 'status').match(/^VmRSS:\s+(\d+) kB$/m)?.[1] : undefined;
    return { pod: metadata.name, rssBytes: kib === undefined ? undefined : Number(kib) * 1024 };
  });
}

const operatorPodNames = async () => (await componentPods('operator')).map((p) => p.metadata.name);
const leaseHolder = async () =>
  (
    await admin.get<{ spec: { holderIdentity?: string } }>(
      `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${RELEASE}-operator`,
    )
  ).spec.holderIdentity;
const routesPath = `/apis/warren.dev/v1alpha1/namespaces/${NAMESPACE}/eventroutes`;
interface Route {
  metadata: { name: string; generation: number };
  spec: { exchange: { name: string } };
  status?: { conditions?: (Condition & { observedGeneration?: number })[] };
}
/** The reference topology's routes (charts/warren/files/topology.yaml): [consumer, route]. */
const CHART_ROUTES = [
  ['user-service', 'order-created-to-user'],
  ['notification-service', 'order-outcome-to-notification'],
  ['notification-service', 'user-created-to-notification'],
  ['order-service', 'user-verdict-to-order'],
] as const;
const LEASE_DURATION_SECONDS = 15; // the operator's default (WARREN_LEASE_DURATION_SECONDS)

test('the leading operator pod deleted during a reconcile: the standby takes the lease, every route ends Ready and whole', async () => {
  const leader = await leaseHolder();
  const standby = (await operatorPodNames()).find((name) => name !== leader);
  expect({ leader, standby: Boolean(standby) }).toEqual({
    leader: expect.any(String),
    standby: true,
  });

  // New routes (new services: users, queues, Secrets, ConfigMaps to make), then the leader goes.
  const faultRoutes = ['fault-a', 'fault-b', 'fault-c'];
  for (const name of faultRoutes) {
    await admin.create(routesPath, {
      apiVersion: 'warren.dev/v1alpha1',
      kind: 'EventRoute',
      metadata: { name, namespace: NAMESPACE },
      spec: {
        exchange: { name: 'fault.events', type: 'topic' },
        source: { service: 'fault-source' },
        events: [`fault.${name}`],
        consumer: { service: `${name}-sink` },
      },
    });
  }
  const deletedAt = Date.now();
  await admin.remove(`/api/v1/namespaces/${NAMESPACE}/pods/${leader}`);
  const tookOver = await waitUntil(async () => (await leaseHolder()) === standby, 60_000, 200);
  const takeoverMs = Date.now() - deletedAt;
  log(`leader ${leader} deleted: ${standby} leads after ${(takeoverMs / 1000).toFixed(1)} s`);
  expect(tookOver).toBe(true);
  expect(takeoverMs).toBeLessThan(LEASE_DURATION_SECONDS * 1000);

  // Every route, the new ones included, Ready for its current generation.
  const routes = async () => (await admin.get<Listed<Route>>(routesPath)).items;
  const readyRoute = (route: Route) => Boolean(trueNow(route, 'Ready'));
  const allReady = await waitUntil(async () => (await routes()).every(readyRoute), 90_000, 1000);
  const notReady = (await routes())
    .filter((route) => !readyRoute(route))
    .map((r) => [r.metadata.name, r.status]);
  expect({ allReady, notReady }).toEqual({ allReady: true, notReady: [] });
  expect((await routes()).length).toBe(CHART_ROUTES.length + faultRoutes.length);

  // Nothing half-applied: each new route's queue is bound, each new service has its user,
  // Secret and ConfigMap.
  const bindings = await managementRequest<{ destination: string; routing_key: string }[]>(
    vhost.managementUrl,
    'GET',
    `/api/exchanges/${encodeURIComponent(vhost.vhost)}/fault.events/bindings/source`,
  );
  for (const name of faultRoutes) {
    expect(bindings).toContainEqual(
      expect.objectContaining({
        destination: consumerQueueName(`${name}-sink`, name),
        routing_key: `fault.${name}`,
      }),
    );
    for (const kind of ['secrets', 'configmaps']) {
      const object =
        kind === 'secrets' ? `warren-broker-${name}-sink` : `warren-topology-${name}-sink`;
      expect(await admin.find(`/api/v1/namespaces/${NAMESPACE}/${kind}/${object}`)).toBeDefined();
    }
  }
  const users = (
    await managementRequest<{ name: string }[]>(vhost.managementUrl, 'GET', '/api/users')
  ).map((user) => user.name);
  for (const service of ['fault-source', ...faultRoutes.map((name) => `${name}-sink`)])
    expect(users).toContain(serviceUserName(service, vhost.vhost));

  // The Deployment replaces the deleted pod; the routes of this test go (they are not the chart's).
  for (const name of faultRoutes) await admin.remove(`${routesPath}/${name}`);
  const settled = await waitUntil(
    async () =>
      (await routes()).length === CHART_ROUTES.length && (await operatorPodNames()).length === 2,
    90_000,
    1000,
  );
  expect(settled).toBe(true);
});

/** The exchange order-service publishes to (charts/warren/files/topology.yaml). */
const ORDER_EVENTS = 'order.events';
const databaseOf = (service: (typeof SERVICES)[number]) => databases[SERVICES.indexOf(service)].url;

test('order-service killed between its commit and its publish: the replacement pod publishes, nothing lost, nothing twice', async () => {
  const email = `edsger-${Date.now()}@example.com`;
  const registered = await callService<{ id: string }>('user-service', 'POST', '/users', {
    email,
    name: 'Edsger Dijkstra',
  });
  expect(registered.status).toBe(201);
  const userId = registered.json.id;

  // The routes whose exchange is order.events are paused first, so the exchange deleted below
  // stays deleted until the crash (no resync repairs it while the test waits for the relay).
  const routes = async () => (await admin.get<Listed<Route>>(routesPath)).items;
  const orderEventRoutes = (await routes())
    .filter((route) => route.spec.exchange.name === ORDER_EVENTS)
    .map((route) => route.metadata.name)
    .sort();
  expect(orderEventRoutes).toEqual(['order-created-to-user', 'order-outcome-to-notification']);
  const pause = (value: 'true' | null) =>
    Promise.all(
      orderEventRoutes.map((name) =>
        admin.mergePatch(`${routesPath}/${name}`, {
          metadata: { annotations: { [PAUSED_ANNOTATION]: value } },
        }),
      ),
    );
  await pause('true');
  await eventually(
    'the operator to hold off the routes of order.events',
    async () =>
      (await routes())
        .filter((route) => orderEventRoutes.includes(route.metadata.name))
        .every(
          (route) =>
            route.status?.conditions?.find((c) => c.type === 'Reconciling')?.reason === 'Paused',
        ),
    60_000,
    500,
  );
  // order-service's relay cannot publish: the committed order.created stays in the outbox.
  await managementRequest(
    vhost.managementUrl,
    'DELETE',
    `/api/exchanges/${encodeURIComponent(vhost.vhost)}/${ORDER_EVENTS}`,
  );
  const order = await placeOrder(userId);
  const orderDb = databaseOf('order-service');
  const unsent = async () =>
    (
      await queryDatabase<{ n: number; attempts: number }>(
        orderDb,
        'SELECT count(*)::int AS n, coalesce(max(attempts), 0)::int AS attempts FROM warren_outbox WHERE aggregate_key = $1 AND sent_at IS NULL',
        [order.id],
      )
    )[0];
  await eventually(
    'a failed publish attempt',
    async () => (await unsent()).attempts > 0,
    30_000,
    200,
  );

  // A crash: SIGKILL of the pod's process (no shutdown hook runs; a DELETE with
  // gracePeriodSeconds 0 alone still gets SIGTERM and the kubelet's 2 s minimum), then the pod
  // deleted with gracePeriodSeconds 0, so the ReplicaSet makes a new one.
  const [crashed] = await componentPods('order-service');
  const pid = podNodeProcess(crashed.metadata.uid);
  expect({ pod: crashed.metadata.name, pid }).toEqual({
    pod: crashed.metadata.name,
    pid: expect.any(String),
  });
  process.kill(Number(pid), 'SIGKILL');
  const crashedAt = Date.now();
  await admin.request('DELETE', `/api/v1/namespaces/${NAMESPACE}/pods/${crashed.metadata.name}`, {
    query: { gracePeriodSeconds: 0 },
  });
  expect((await unsent()).n).toBe(1);

  // Unpaused: the operator's next reconcile (the annotation change triggers it, no resync
  // waited for) finds the exchange and its bindings gone and recreates them.
  await pause(null);
  const replaced = await eventually(
    'the replacement order-service pod to be Ready',
    async () => {
      const pods = await componentPods('order-service');
      return (
        pods.length === 1 &&
        pods[0].metadata.name !== crashed.metadata.name &&
        podReady(pods[0]) &&
        pods[0]
      );
    },
    3 * 60_000,
    1000,
  );
  log(
    `order-service pod ${crashed.metadata.name} killed: ${replaced.metadata.name} Ready after ${((Date.now() - crashedAt) / 1000).toFixed(1)} s`,
  );

  // Nothing lost: the replacement's relay publishes the row, the saga confirms the order.
  const done = await decidedOrder(order.id, 2 * 60_000);
  log(
    `the killed pod's order CONFIRMED ${((Date.now() - crashedAt) / 1000).toFixed(1)} s after the kill`,
  );
  expect(done.status).toBe('CONFIRMED');
  // CONFIRMED commits an order.confirmed row of its own: the relay sends it a moment later.
  await eventually(
    'every outbox row of the order sent',
    async () => (await unsent()).n === 0,
    60_000,
    500,
  );
  const confirmations = () =>
    queryDatabase<{ id: string }>(
      databaseOf('notification-service'),
      `SELECT id FROM notifications WHERE order_id = $1 AND kind = 'order-confirmed'`,
      [order.id],
    );
  await eventually(
    'the order-confirmed notification',
    async () => (await confirmations()).length > 0,
    60_000,
    1000,
  );
  // Nothing twice: one CONFIRMED transition, one notification.
  expect(done.history.map((h) => h.toStatus)).toEqual(['PENDING', 'CONFIRMED']);
  const history = await queryDatabase<{ to_status: string }>(
    orderDb,
    'SELECT to_status::text FROM order_events WHERE order_id = $1 ORDER BY id',
    [order.id],
  );
  expect(history.map((row) => row.to_status)).toEqual(['PENDING', 'CONFIRMED']);
  expect(await confirmations()).toHaveLength(1);

  // The operator repaired what was deleted: the exchange, each route's binding, every route Ready.
  const bindings = await managementRequest<{ destination: string }[]>(
    vhost.managementUrl,
    'GET',
    `/api/exchanges/${encodeURIComponent(vhost.vhost)}/${ORDER_EVENTS}/bindings/source`,
  );
  expect([...new Set(bindings.map((b) => b.destination))].sort()).toEqual(
    CHART_ROUTES.filter(([, route]) => orderEventRoutes.includes(route))
      .map(([consumer, route]) => consumerQueueName(consumer, route))
      .sort(),
  );
  const allReady = await waitUntil(
    async () => (await routes()).every((route) => Boolean(trueNow(route, 'Ready'))),
    60_000,
    1000,
  );
  expect(allReady).toBe(true);
});

test('helm upgrade to a new image tag: the migrations run again before the new service pods serve', async () => {
  const before = new Map((await listMigrations()).map((m) => [m.metadata.name, m]));
  // The same images under a second tag: a new image reference for the chart, nothing to build.
  const NEW_TAG = 'upgrade';
  for (const service of SERVICES) {
    const ref = images.services[service].ref;
    await run('ctr', [
      '--address',
      node.containerdSocket,
      '--namespace',
      'k8s.io',
      'images',
      'tag',
      '--force',
      ref,
      ref.replace(/:[^:/]+$/, `:${NEW_TAG}`),
    ]);
  }
  const upgraded = await helm(
    'upgrade',
    RELEASE,
    chart,
    '--namespace',
    NAMESPACE,
    '--reuse-values',
    '--set',
    `services.image.tag=${NEW_TAG}`,
  );
  expect(upgraded.stdout).toContain('STATUS: deployed');

  const migrated = await waitUntil(
    async () =>
      (await listMigrations()).every(
        (m) =>
          m.metadata.generation > (before.get(m.metadata.name)?.metadata.generation ?? 0) &&
          trueNow(m, 'Ready') &&
          m.status?.lastJobName !== before.get(m.metadata.name)?.status?.lastJobName,
      ),
    5 * 60_000,
    1000,
  );
  expect({ migrated, migrations: await listMigrations() }).toEqual({
    migrated: true,
    migrations: expect.anything(),
  });

  // Every service rolled to the new image, its new pods started after its migration's Job.
  const rolled = await waitUntil(
    async () => {
      for (const service of SERVICES) {
        const pods = await componentPods(service);
        const ready = pods.filter(podReady);
        if (
          pods.length !== 1 ||
          ready.length !== 1 ||
          !pods[0].spec.containers[0].image.endsWith(`:${NEW_TAG}`)
        )
          return false;
      }
      return true;
    },
    5 * 60_000,
    2000,
  );
  expect(rolled).toBe(true);
  for (const migration of await listMigrations()) {
    const job = await admin.get<{ status?: { completionTime?: string; succeeded?: number } }>(
      `/apis/batch/v1/namespaces/${NAMESPACE}/jobs/${migration.status?.lastJobName}`,
    );
    expect(job.status?.succeeded).toBe(1);
    const [pod] = await componentPods(migration.metadata.name);
    const startedAt = pod.status?.containerStatuses?.[0].state?.running?.startedAt as string;
    // RFC 3339 seconds on both sides: the pod's container started no earlier than the Job ended.
    expect(Date.parse(startedAt)).toBeGreaterThanOrEqual(
      Date.parse(job.status?.completionTime as string),
    );
  }
  // The new pods serve, through the Service: kube-proxy follows the new endpoints a moment
  // after the pod is Ready, so a connection may time out towards the old pod's IP until then.
  const registered = await eventually(
    'user-service to answer through its Service after the rollout',
    () =>
      callService('user-service', 'POST', '/users', {
        email: `grace-${Date.now()}@example.com`,
        name: 'Grace Hopper',
      }),
    60_000,
    1000,
  );
  expect(registered.status).toBe(201);
});

interface KedaStatus {
  status?: { conditions?: Condition[] };
}
interface ScaledDeployment {
  spec: { replicas?: number };
}
/** What the route asks of KEDA below: short polling and cooldown, so a test can wait for them. */
const AUTOSCALING = {
  minReplicas: 0,
  maxReplicas: 2,
  targetQueueLength: 5,
  activationQueueLength: 2,
  pollingIntervalSeconds: 2,
  cooldownPeriodSeconds: 10,
};
/** The broker's management statistics (queue depths: what KEDA's scaler reads) lag up to 5 s. */
const STATS_LAG_MS = 5_000;

test("KEDA's operator scales a consumer with its route's queue: a backlog above the activation wakes it from 0, the drained queue takes it back to 0", async () => {
  const stepStartedAt = Date.now();
  const service = 'notification-service';
  const route = 'user-created-to-notification';
  const queue = consumerQueueName(service, route);
  const scaledObjectPath = `/apis/keda.sh/v1alpha1/namespaces/${NAMESPACE}/scaledobjects/warren-${service}`;
  const deploymentPath = `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${service}`;
  const kedaCondition = async (type: 'Ready' | 'Active') =>
    (await admin.find<KedaStatus>(scaledObjectPath))?.status?.conditions?.find(
      (c) => c.type === type,
    )?.status;
  const replicas = async () => (await admin.get<ScaledDeployment>(deploymentPath)).spec.replicas;
  const depth = async () =>
    (
      await managementRequest<{ messages?: number }>(
        vhost.managementUrl,
        'GET',
        `/api/queues/${encodeURIComponent(vhost.vhost)}/${encodeURIComponent(queue)}`,
      )
    ).messages ?? 0;
  const userIds: string[] = [];
  const register = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const registered = await callService<{ id: string }>('user-service', 'POST', '/users', {
        email: `keda-${Date.now()}-${i}@example.com`,
        name: 'Karen Spärck Jones',
      });
      expect(registered.status).toBe(201);
      userIds.push(registered.json.id);
    }
  };

  // The route asks for autoscaling: the operator writes the ScaledObject, KEDA takes it (Ready)
  // and, the queue being empty (not Active), scales the Deployment to zero.
  await admin.mergePatch(`${routesPath}/${route}`, {
    spec: { consumer: { autoscaling: AUTOSCALING } },
  });
  const patchedAt = Date.now();
  await eventually(
    'KEDA to take the ScaledObject and scale the idle consumer to 0',
    async () =>
      (await kedaCondition('Ready')) === 'True' &&
      (await kedaCondition('Active')) === 'False' &&
      (await replicas()) === 0 &&
      (await componentPods(service)).length === 0,
    3 * 60_000,
    500,
  );
  log(
    `benchmark: KEDA: autoscaling set -> ScaledObject Ready, consumer at 0 replicas and no pod: ${((Date.now() - patchedAt) / 1000).toFixed(1)} s`,
  );
  const condition = await eventually(
    "the route's Autoscaling condition to carry KEDA's verdict",
    async () =>
      (await admin.get<Route>(`${routesPath}/${route}`)).status?.conditions?.find(
        (c) => c.type === 'Autoscaling' && c.status === 'True',
      ),
    60_000,
    500,
  );
  expect(condition.reason).toBe('ScalerReady');
  // The HPA KEDA made for 1..N (it scales nothing here: no metrics adapter, see the docs).
  const hpa = await admin.get<{ spec: { minReplicas: number; maxReplicas: number } }>(
    `/apis/autoscaling/v2/namespaces/${NAMESPACE}/horizontalpodautoscalers/keda-hpa-warren-${service}`,
  );
  expect(hpa.spec).toMatchObject({ minReplicas: 1, maxReplicas: AUTOSCALING.maxReplicas });

  // A backlog at the activation threshold does not wake it (KEDA activates above it).
  await register(AUTOSCALING.activationQueueLength);
  expect(
    await waitUntil(async () => (await depth()) === AUTOSCALING.activationQueueLength, 30_000, 500),
  ).toBe(true);
  await sleep(STATS_LAG_MS + 2 * AUTOSCALING.pollingIntervalSeconds * 1000);
  expect({ active: await kedaCondition('Active'), replicas: await replicas() }).toEqual({
    active: 'False',
    replicas: 0,
  });

  // Above it: KEDA activates the ScaledObject, scales the Deployment up, its pod drains the queue.
  await register(2);
  const backlogAt = Date.now();
  const seen: { active?: number; scaledUp?: number; podReady?: number } = {};
  const since = (at: number | undefined) =>
    at === undefined ? 'never' : `${((at - backlogAt) / 1000).toFixed(1)} s`;
  const woke = await waitUntil(
    async () => {
      const now = Date.now();
      if (seen.active === undefined && (await kedaCondition('Active')) === 'True')
        seen.active = now;
      if (seen.scaledUp === undefined && ((await replicas()) ?? 0) >= 1) seen.scaledUp = now;
      if (seen.podReady === undefined && (await componentPods(service)).some(podReady))
        seen.podReady = now;
      return Object.keys(seen).length === 3;
    },
    3 * 60_000,
    250,
  );
  log(
    `benchmark: KEDA: backlog of ${userIds.length} (activation ${AUTOSCALING.activationQueueLength}) -> Active ${since(seen.active)}, Deployment scaled up ${since(seen.scaledUp)}, pod Ready ${since(seen.podReady)}`,
  );
  expect({ woke, seen }).toEqual({
    woke: true,
    seen: {
      active: expect.any(Number),
      scaledUp: expect.any(Number),
      podReady: expect.any(Number),
    },
  });
  const welcomed = async () =>
    (
      await queryDatabase<{ n: number }>(
        databaseOf(service),
        `SELECT count(DISTINCT user_id)::int AS n FROM notifications WHERE kind = 'welcome' AND user_id = ANY($1)`,
        [userIds],
      )
    )[0].n;
  await eventually(
    'the scaled-up consumer to welcome every user',
    async () => (await welcomed()) === userIds.length,
    2 * 60_000,
    500,
  );
  expect(await waitUntil(async () => (await depth()) === 0, 60_000, 500)).toBe(true);
  const drainedAt = Date.now();

  // Drained: after the cooldown KEDA deactivates and scales the Deployment back to minReplicas.
  await eventually(
    'KEDA to scale the drained consumer back to 0',
    async () =>
      (await kedaCondition('Active')) === 'False' &&
      (await replicas()) === AUTOSCALING.minReplicas &&
      (await componentPods(service)).length === 0,
    3 * 60_000,
    500,
  );
  log(
    `benchmark: KEDA: queue drained -> consumer back at 0 replicas, pod gone: ${((Date.now() - drainedAt) / 1000).toFixed(1)} s (cooldown ${AUTOSCALING.cooldownPeriodSeconds} s)`,
  );

  // Autoscaling off again: the operator deletes its ScaledObject, KEDA its HPA; the service is
  // given back its one replica for the next tests.
  await admin.mergePatch(`${routesPath}/${route}`, {
    spec: { consumer: { autoscaling: null } },
  });
  await eventually(
    'the ScaledObject and its HPA to go',
    async () =>
      (await admin.find(scaledObjectPath)) === undefined &&
      (await admin.find(
        `/apis/autoscaling/v2/namespaces/${NAMESPACE}/horizontalpodautoscalers/keda-hpa-warren-${service}`,
      )) === undefined,
    60_000,
    500,
  );
  await admin.mergePatch(deploymentPath, { spec: { replicas: 1 } });
  await eventually(
    `${service} to serve again`,
    async () => (await componentPods(service)).filter(podReady).length === 1,
    2 * 60_000,
    1000,
  );
  log(`benchmark: KEDA: the whole step: ${((Date.now() - stepStartedAt) / 1000).toFixed(1)} s`);
});

test("a migration that fails: Stalled with Prisma's message, the new pod waits, the old one serves", async () => {
  const service = 'notification-service';
  const [serving] = await componentPods(service);
  // As a user deploys a new image: the DatabaseMigration's and the Deployment's together.
  await admin.mergePatch(
    `/apis/warren.dev/v1alpha1/namespaces/${NAMESPACE}/databasemigrations/${service}`,
    { spec: { image: failingImage, backoffLimit: 0 } },
  );
  await admin.request('PATCH', `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${service}`, {
    body: {
      spec: { template: { spec: { containers: [{ name: service, image: failingImage }] } } },
    },
    contentType: 'application/strategic-merge-patch+json',
  });
  const stalled = await eventually(
    'the migration to be Stalled',
    async () => {
      const [migration] = (await listMigrations()).filter((m) => m.metadata.name === service);
      return trueNow(migration, 'Stalled');
    },
    3 * 60_000,
    1000,
  );
  expect(stalled.reason).toBe('BackoffLimitExceeded');
  expect(stalled.message).toContain(FAILING_MIGRATION.error);
  expect(stalled.message).toContain(FAILING_MIGRATION.name);

  // The new pod waits in its initContainer; the old one is still Ready and answers.
  const pods = await componentPods(service);
  const waiting = pods.find((pod) => pod.spec.containers[0].image === failingImage);
  expect(waiting?.status?.conditions?.find((c) => c.type === 'Initialized')?.status).toBe('False');
  expect(pods.map((pod) => pod.metadata.name)).toContain(serving.metadata.name);
  const old = pods.find((pod) => pod.metadata.name === serving.metadata.name);
  expect(old?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  const answer = await callService<unknown[]>(
    'notification-service',
    'GET',
    `/notifications?userId=${crypto.randomUUID()}`,
  );
  expect(answer).toEqual({ status: 200, json: [] });
});

test('helm uninstall: a queue holding messages stays with its group, the rest goes', async () => {
  // notification-service stopped, a registration leaves user.created in its queue.
  await admin.mergePatch(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/notification-service`, {
    spec: { replicas: 0 },
  });
  expect(
    await waitUntil(
      async () => (await componentPods('notification-service')).length === 0,
      90_000,
      1000,
    ),
  ).toBe(true);
  const registered = await callService('user-service', 'POST', '/users', {
    email: `barbara-${Date.now()}@example.com`,
    name: 'Barbara Liskov',
  });
  expect(registered.status).toBe(201);
  const retained = consumerQueueName('notification-service', 'user-created-to-notification');
  const queues = () =>
    managementRequest<{ name: string; messages?: number }[]>(
      vhost.managementUrl,
      'GET',
      `/api/queues/${encodeURIComponent(vhost.vhost)}?columns=name,messages`,
    );
  const holding = await waitUntil(
    async () => ((await queues()).find((q) => q.name === retained)?.messages ?? 0) >= 1,
    30_000,
    1000,
  );
  expect(holding).toBe(true);
  // Queues by route group (the consumer queue, its retry and dead-letter queues): which hold messages.
  const groupsOf = (listed: { name: string; messages?: number }[]) => {
    const groups = new Map<string, { queues: string[]; messages: number }>();
    for (const queue of listed) {
      const head = CHART_ROUTES.map(([consumer, route]) => consumerQueueName(consumer, route)).find(
        (name) => queue.name === name || queue.name.startsWith(`${name}.`),
      );
      const group = groups.get(head ?? queue.name) ?? { queues: [], messages: 0 };
      group.queues.push(queue.name);
      group.messages += queue.messages ?? 0;
      groups.set(head ?? queue.name, group);
    }
    return groups;
  };
  const before = groupsOf(await queues());
  log(`before uninstall, queues: ${JSON.stringify([...before])}`);
  expect(before.get(retained)?.messages).toBe(1);

  const uninstalled = await helm(
    'uninstall',
    RELEASE,
    '--namespace',
    NAMESPACE,
    '--wait',
    '--timeout',
    '5m',
  );
  expect(uninstalled.stdout).toContain('uninstalled');

  // Retain: each group that held a message is kept whole, every empty one is gone.
  const after = groupsOf(await queues());
  log(`after uninstall, queues left: ${JSON.stringify([...after])}`);
  const holdingBefore = [...before].filter(([, group]) => group.messages > 0);
  expect([...after].map(([head, group]) => [head, group.queues.sort()]).sort()).toEqual(
    holdingBefore.map(([head, group]) => [head, group.queues.sort()]).sort(),
  );
  expect(after.get(retained)?.messages).toBe(1);
  expect((await admin.get<Listed<unknown>>(routesPath)).items).toEqual([]);
  expect(await listMigrations()).toEqual([]);
  const gone = await waitUntil(
    async () =>
      (await admin.get<Listed<Pod>>(`/api/v1/namespaces/${NAMESPACE}/pods`)).items.length === 0,
    120_000,
    1000,
  );
  expect(gone).toBe(true);
});
