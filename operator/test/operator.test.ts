/**
 * The operator against a real kube-apiserver and a real RabbitMQ: apply the seed examples and
 * every route becomes Ready with its topology on the broker; status follows broker truth
 * (drift is repaired and recorded); RetryPolicy edits reach the retry queues; deletion honours
 * deletionPolicy; two replicas elect one leader and fail over.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as amqp from 'amqplib';
import { eventually, managementRequest, repoRoot } from '@warren/testing';
import type { EventRoute } from '@warren/crds';
import { KubeApiError } from '../src/kube/client';
import type { RunningOperator } from '../src/runtime/operator';
import {
  applyManifest,
  loadManifests,
  resourcePath,
  startOperatorTestEnv,
  type OperatorTestEnv,
} from './support/operator-env';

jest.setTimeout(180_000);

let env: OperatorTestEnv;
let operator: RunningOperator;
const routes = () =>
  env.admin.list<EventRoute>(`/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes`);
const route = (name: string) =>
  env.admin.get<EventRoute>(
    `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes/${name}`,
  );
const ready = (r: EventRoute) => r.status?.conditions?.find((c) => c.type === 'Ready');
const queues = async () =>
  (
    await managementRequest<{ name: string; type: string; messages?: number }[]>(
      env.vhost.managementUrl,
      'GET',
      `/api/queues/${encodeURIComponent(env.vhost.vhost)}`,
    )
  ).map((q) => q.name);
const events = async (reason: string) =>
  (
    await env.admin.list<{ reason: string; message: string; involvedObject: { name: string } }>(
      `/api/v1/namespaces/${env.namespace}/events`,
    )
  ).items.filter((e) => e.reason === reason);

beforeAll(async () => {
  env = await startOperatorTestEnv('operator');
  operator = await env.startOperator();
});

afterAll(async () => {
  await env?.dispose();
});

it('makes every example route Ready with its topology on the broker, and writes service ConfigMaps and Secrets', async () => {
  for (const doc of loadManifests(path.join(repoRoot, 'examples'), env.namespace))
    await applyManifest(env.admin, doc);
  const all = await eventually('all routes Ready', async () => {
    const list = (await routes()).items;
    return (
      list.length === 4 &&
      list.every(
        (r) =>
          ready(r)?.status === 'True' && r.status?.observedGeneration === r.metadata.generation,
      ) &&
      list
    );
  });
  const names = await queues();
  for (const r of all) {
    expect(names).toContain(r.status!.queue);
    expect(names).toContain(`${r.status!.queue}.dlq`);
    expect(r.metadata.finalizers).toContain('warren.dev/finalizer');
  }
  expect(names).toEqual(
    expect.arrayContaining([
      'user-service.order-created-to-user.retry.1s',
      'user-service.order-created-to-user.retry.2s',
    ]),
  );

  const configMap = await env.admin.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${env.namespace}/configmaps/warren-topology-user-service`,
  );
  const document = JSON.parse(configMap.data['topology.json']!);
  expect(document).toMatchObject({
    kind: 'ServiceTopology',
    service: 'user-service',
    vhost: env.vhost.vhost,
  });
  expect(document.consumes.map((c: { queue: string }) => c.queue)).toContain(
    'user-service.order-created-to-user',
  );

  // The Secret's own credentials consume the service's queue and nothing else.
  const secret = await env.admin.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${env.namespace}/secrets/warren-broker-user-service`,
  );
  const url = Buffer.from(secret.data.url!, 'base64').toString();
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    await channel.consume('user-service.order-created-to-user', () => undefined);
    const other = await connection.createChannel();
    other.on('error', () => undefined);
    const refused = await other
      .consume('notification-service.user-created-to-notification', () => undefined)
      .catch((error: Error) => error);
    expect(String(refused)).toMatch(/403|ACCESS_REFUSED/);
  } finally {
    await connection.close().catch(() => undefined);
  }
  const synced = await events('Synced');
  expect(synced.length).toBeGreaterThanOrEqual(4);
});

it('refuses invalid resources at apply time, naming the field, as `warren validate` does', async () => {
  const dir = path.join(repoRoot, 'shared/crds/test/fixtures/invalid');
  for (const file of fs.readdirSync(dir)) {
    const expected = /# expect: (\S+)/.exec(fs.readFileSync(path.join(dir, file), 'utf8'))?.[1];
    const [doc] = loadManifests(path.join(dir, file), env.namespace);
    // kubectl's default: unknown fields are refused, not silently pruned.
    const error = await env.admin
      .request('POST', resourcePath(doc as never), {
        body: doc,
        query: { fieldValidation: 'Strict' },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect([file, error]).toEqual([file, expect.any(KubeApiError)]);
    // 422 Invalid for schema and CEL violations, 400 BadRequest for an unknown field.
    expect([400, 422]).toContain((error as KubeApiError).status);
    // The server names the field (its path without the leading "spec." for CEL rules at spec level).
    const field = expected!.split('.').pop()!;
    expect(`${file}: ${(error as KubeApiError).message}`).toContain(field);
  }
});

it('repairs a queue deleted by hand within the resync period: Ready goes False, then True, with Events', async () => {
  const queue = 'notification-service.user-created-to-notification';
  await managementRequest(
    env.vhost.managementUrl,
    'DELETE',
    `/api/queues/${encodeURIComponent(env.vhost.vhost)}/${queue}`,
  );
  await eventually('the queue to come back', async () => (await queues()).includes(queue), 30_000);
  const drift = await eventually('a DriftDetected event', async () =>
    (await events('DriftDetected')).find((e) => e.message.includes(queue)),
  );
  expect(drift.involvedObject.name).toBe('user-created-to-notification');
  await eventually('a Repaired event', async () => (await events('Repaired')).length > 0);
  const r = await eventually('Ready again', async () => {
    const current = await route('user-created-to-notification');
    return ready(current)?.status === 'True' && current;
  });
  expect(ready(r)?.reason).toBe('Synced');
});

it('moves the retry queues when the RetryPolicy changes', async () => {
  await env.admin.mergePatch(
    `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/retrypolicies/three-strikes`,
    {
      spec: { backoff: { initialDelay: '500ms' } },
    },
  );
  await eventually('retry queues for 500ms and 1s', async () => {
    const names = await queues();
    return (
      names.includes('user-service.order-created-to-user.retry.500ms') &&
      !names.includes('user-service.order-created-to-user.retry.2s')
    );
  });
  await eventually('the policy status to show the new delays', async () => {
    const policy = await env.admin.get<{ status: { delays: string[]; routes: number } }>(
      `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/retrypolicies/three-strikes`,
    );
    return policy.status.delays.join() === '500ms,1s' && policy.status.routes === 4;
  });
});

it('writes nothing to the API server at an idle resync', async () => {
  const metric = async (prefix: string) =>
    (
      await fetch(
        `http://127.0.0.1:${(operator.server.address() as { port: number }).port}/metrics`,
      ).then((r) => r.text())
    )
      .split('\n')
      .filter((line) => line.startsWith(prefix))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  const reconciles = () => metric('warren_reconcile_total{kind="EventRoute",result="success"}');
  // Status patches, Events, applies, deletes: a no-op PATCH leaves resourceVersions alone, so
  // the requests themselves are counted (GETs and Lease renewal PUTs are not writes here).
  const writes = async () =>
    (await metric('warren_kube_api_requests_total{method="PATCH"')) +
    (await metric('warren_kube_api_requests_total{method="POST"')) +
    (await metric('warren_kube_api_requests_total{method="DELETE"'));
  // Figures the broker reports late (depth appears ~5 s after a queue is created) may still land;
  // after that the operator must settle into writing nothing at all.
  const quietPeriod = async () => {
    const before = { routes: (await routes()).items, writes: await writes() };
    const start = await reconciles();
    await eventually('two reconciles', async () => (await reconciles()) >= start + 2, 30_000);
    const after = { routes: (await routes()).items, writes: await writes() };
    return {
      unchanged: after.routes.every(
        (r, i) => r.metadata.resourceVersion === before.routes[i]?.metadata.resourceVersion,
      ),
      writes: after.writes - before.writes,
      statuses: [before.routes, after.routes].map((list) => list.map((r) => r.status)),
    };
  };
  await eventually('the broker figures of every route', async () =>
    (await routes()).items.every(
      (r) => r.status?.depth !== undefined && r.status?.deadLetterDepth !== undefined,
    ),
  );
  await eventually(
    'a quiet period',
    async () => {
      const period = await quietPeriod();
      return period.unchanged && period.writes === 0;
    },
    90_000,
  );
  const quiet = await quietPeriod();
  expect(quiet.statuses[1]).toEqual(quiet.statuses[0]);
  expect(quiet.unchanged).toBe(true);
  expect(quiet.writes).toBe(0);
});

it('rotates a service password when its credentials Secret is deleted', async () => {
  const secretPath = `/api/v1/namespaces/${env.namespace}/secrets/warren-broker-order-service`;
  const urlOf = (secret: { data: Record<string, string> }) =>
    Buffer.from(secret.data.url!, 'base64').toString();
  const old = urlOf(await env.admin.get(secretPath));
  await env.admin.remove(secretPath);
  const rotated = await eventually('a new Secret', async () => {
    const secret = await env.admin.find<{ data: Record<string, string> }>(secretPath);
    return secret && urlOf(secret);
  });
  expect(rotated).not.toBe(old);
  const refused = await amqp.connect(old).then(
    (c) => c.close().then(() => 'connected'),
    (error: Error) => error.message,
  );
  expect(refused).toMatch(/ACCESS_REFUSED|403/);
  const connection = await amqp.connect(rotated);
  await connection.close();
});

it('leaves a paused route alone, and repairs it once the pause is lifted', async () => {
  const name = 'order-created-to-user';
  const queue = 'user-service.order-created-to-user.dlq';
  const path_ = `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes/${name}`;
  await env.admin.mergePatch(path_, { metadata: { annotations: { 'warren.dev/paused': 'true' } } });
  await eventually('Reconciling=False Paused', async () =>
    (await route(name)).status?.conditions?.some(
      (c) => c.type === 'Reconciling' && c.reason === 'Paused',
    ),
  );
  await managementRequest(
    env.vhost.managementUrl,
    'DELETE',
    `/api/queues/${encodeURIComponent(env.vhost.vhost)}/${encodeURIComponent(queue)}`,
  );
  const paused = await eventually('Ready=False while paused', async () => {
    const r = await route(name);
    return ready(r)?.status === 'False' && r;
  });
  expect(ready(paused)?.message).toContain(queue);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  expect(await queues()).not.toContain(queue);
  await env.admin.mergePatch(path_, { metadata: { annotations: { 'warren.dev/paused': null } } });
  await eventually(
    'the queue back after the pause',
    async () => (await queues()).includes(queue),
    30_000,
  );
});

it('gives the newer of two routes claiming one queue a Conflict condition', async () => {
  const [doc] = loadManifests(path.join(repoRoot, 'examples/order-events.yaml'), env.namespace);
  const copy = {
    ...doc,
    metadata: { name: 'copycat', namespace: env.namespace },
    spec: {
      ...doc!.spec,
      consumer: { ...doc!.spec.consumer, queue: 'user-service.order-created-to-user' },
    },
  };
  await applyManifest(env.admin, copy);
  const conflicted = await eventually('a Conflict on the newer route', async () => {
    const r = await route('copycat');
    return ready(r)?.reason === 'Conflict' && r;
  });
  expect(ready(conflicted)?.message).toContain('order-created-to-user');
  expect(ready(await route('order-created-to-user'))?.status).toBe('True');
  await env.admin.remove(
    `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes/copycat`,
  );
});

it('releases an unmanaged route without deleting anything', async () => {
  const name = 'user-verdict-to-order';
  const before = (await route(name)).status!.queue!;
  await env.admin.mergePatch(
    `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes/${name}`,
    {
      metadata: { annotations: { 'warren.dev/unmanaged': 'true' } },
    },
  );
  await eventually(
    'the finalizer to go',
    async () => !(await route(name)).metadata.finalizers?.includes('warren.dev/finalizer'),
  );
  await env.admin.remove(
    `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes/${name}`,
  );
  await eventually(
    'the route to be gone',
    async () =>
      !(await env.admin.find(
        `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes/${name}`,
      )),
  );
  await new Promise((resolve) => setTimeout(resolve, 3000));
  expect(await queues()).toContain(before);
});

it('keeps a queue holding messages under Retain and deletes the queue under Delete', async () => {
  const admin = await amqp.connect(env.vhost.amqpUrl);
  const channel = await admin.createConfirmChannel();
  channel.sendToQueue('notification-service.user-created-to-notification', Buffer.from('{}'), {
    persistent: true,
  });
  await channel.waitForConfirms();
  await env.admin.remove(
    `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes/user-created-to-notification`,
  );
  await eventually(
    'the route to be gone',
    async () =>
      !(await env.admin.find(
        `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes/user-created-to-notification`,
      )),
  );
  expect(await queues()).toContain('notification-service.user-created-to-notification');
  const finalizerEvents = (
    await env.admin.list<{ reason: string; message: string; involvedObject: { name: string } }>(
      `/api/v1/namespaces/${env.namespace}/events`,
    )
  ).items
    .filter((e) => e.involvedObject.name === 'user-created-to-notification')
    .map((e) => `${e.reason}: ${e.message}`);
  expect(finalizerEvents).toContainEqual(
    expect.stringMatching(
      /^Retained: deletionPolicy Retain: kept .*notification-service.user-created-to-notification/,
    ),
  );

  await env.admin.mergePatch(
    `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes/order-outcome-to-notification`,
    {
      spec: { deletionPolicy: 'Delete' },
    },
  );
  await env.admin.remove(
    `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes/order-outcome-to-notification`,
  );
  await eventually(
    'its queue to be deleted',
    async () => !(await queues()).includes('notification-service.order-outcome-to-notification'),
  );
  await admin.close();
});

it('elects one leader among two replicas and fails over when the leader stops', async () => {
  const standby = await env.startOperator();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  expect([operator.isLeader(), standby.isLeader()]).toEqual([true, false]);
  await operator.stop();
  await eventually('the standby to lead', async () => standby.isLeader(), 15_000);
  // The new leader reconciles: a deleted queue comes back.
  const queue = 'user-service.order-created-to-user';
  await managementRequest(
    env.vhost.managementUrl,
    'DELETE',
    `/api/queues/${encodeURIComponent(env.vhost.vhost)}/${queue}`,
  );
  await eventually(
    'the queue to come back under the new leader',
    async () => (await queues()).includes(queue),
    30_000,
  );
  operator = standby;
});
