/**
 * The API server behaviours the operator relies on, against a real kube-apiserver + etcd.
 * Each test works in its own namespace; no controllers run, so nothing is garbage-collected.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { ControlPlane, ensureKubeBinaries, readKubePins } from '../src/kube';

const run = promisify(execFile);
const fixtures = path.join(__dirname, 'fixtures');
const group = 'test.warren.dev';
const widgets = { group, version: 'v1', plural: 'widgets' };

let plane: ControlPlane;
let admin: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let custom: k8s.CustomObjectsApi;
let namespaceCount = 0;

function clientConfig(kubeconfigPath: string): k8s.KubeConfig {
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return config;
}

async function freshNamespace(): Promise<string> {
  const name = `t${process.pid}-${++namespaceCount}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

/** The HTTP status and the server's Status message of a refused call. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof k8s.ApiException)) throw error;
    const body = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    return { code: error.code, message: String(body?.message) };
  }
  throw new Error('the API server accepted a call it should refuse');
}

const widget = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: `${group}/v1`,
  kind: 'Widget',
  metadata: { name },
  spec,
});

beforeAll(async () => {
  // Normally a no-op: the global setup has built the binaries already (with progress).
  await ensureKubeBinaries();
  plane = await ControlPlane.start();
  process.stderr.write(`control plane start-up: ${(plane.startupMs / 1000).toFixed(1)} s\n`);
  admin = clientConfig(plane.kubeconfigPath);
  core = admin.makeApiClient(k8s.CoreV1Api);
  custom = admin.makeApiClient(k8s.CustomObjectsApi);
  expect(await plane.installCrds(path.join(fixtures, 'crds'))).toEqual([`widgets.${group}`]);
}, 45 * 60_000); // a cold build of the binaries, should the global setup not have done it

afterAll(async () => {
  await plane?.stop();
});

test('serves the pinned Kubernetes version', async () => {
  const version = await admin.makeApiClient(k8s.VersionApi).getCode();
  expect(version.gitVersion).toBe(plane.kubernetesVersion);
});

test('an applied CRD serves custom resources', async () => {
  const namespace = await freshNamespace();
  await custom.createNamespacedCustomObject({
    ...widgets,
    namespace,
    body: widget('w1', { size: 3, color: 'red' }),
  });
  const read = (await custom.getNamespacedCustomObject({ ...widgets, namespace, name: 'w1' })) as {
    spec: { size: number };
    metadata: { generation: number };
  };
  expect(read.spec.size).toBe(3);
  expect(read.metadata.generation).toBe(1);
});

test('refuses invalid fields with the server’s own message', async () => {
  const namespace = await freshNamespace();
  const schema = await refusal(
    custom.createNamespacedCustomObject({
      ...widgets,
      namespace,
      body: widget('bad', { size: 0, color: 'purple' }),
    }),
  );
  expect(schema.code).toBe(422);
  expect(schema.message).toContain(
    'spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1',
  );
  expect(schema.message).toContain('spec.color: Unsupported value: "purple"');

  const cel = await refusal(
    custom.createNamespacedCustomObject({
      ...widgets,
      namespace,
      body: widget('bad', { size: 5, maxSize: 2 }),
    }),
  );
  expect(cel.code).toBe(422);
  expect(cel.message).toContain('size must not exceed maxSize');
});

test('a watch sees ADDED, MODIFIED and DELETED', async () => {
  const namespace = await freshNamespace();
  const seen: string[] = [];
  let resolveDeleted!: () => void;
  const deleted = new Promise<void>((resolve) => (resolveDeleted = resolve));
  const watch = await new k8s.Watch(admin).watch(
    `/apis/${group}/v1/namespaces/${namespace}/widgets`,
    {},
    (type: string) => {
      seen.push(type);
      if (type === 'DELETED') resolveDeleted();
    },
    () => undefined,
  );
  try {
    await custom.createNamespacedCustomObject({
      ...widgets,
      namespace,
      body: widget('w', { size: 1 }),
    });
    await custom.patchNamespacedCustomObject(
      { ...widgets, namespace, name: 'w', body: { spec: { size: 2 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await custom.deleteNamespacedCustomObject({ ...widgets, namespace, name: 'w' });
    await deleted;
  } finally {
    watch.abort();
  }
  expect(seen).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
});

test('an update with a stale resourceVersion gets 409 Conflict', async () => {
  const namespace = await freshNamespace();
  const created = await core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name: 'cm' }, data: { a: '1' } },
  });
  await core.replaceNamespacedConfigMap({
    namespace,
    name: 'cm',
    body: { ...created, data: { a: '2' } },
  });
  const stale = await refusal(
    core.replaceNamespacedConfigMap({
      namespace,
      name: 'cm',
      body: { ...created, data: { a: '3' } },
    }),
  );
  expect(stale.code).toBe(409);
  expect(stale.message).toContain('the object has been modified');
});

test('a Lease is created and renewed', async () => {
  const namespace = await freshNamespace();
  const leases = admin.makeApiClient(k8s.CoordinationV1Api);
  // Lease times are MicroTime: a plain Date (milliseconds) is refused with 400 by the real server.
  const acquired = new k8s.V1MicroTime();
  const spec = {
    holderIdentity: 'replica-a',
    leaseDurationSeconds: 15,
    acquireTime: acquired,
    renewTime: acquired,
  };
  const created = await leases.createNamespacedLease({
    namespace,
    body: { metadata: { name: 'warren-operator' }, spec },
  });
  const renewedAt = new k8s.V1MicroTime(acquired.getTime() + 5000);
  const renewed = await leases.replaceNamespacedLease({
    namespace,
    name: 'warren-operator',
    body: { metadata: created.metadata, spec: { ...spec, renewTime: renewedAt } },
  });
  expect(renewed.spec?.holderIdentity).toBe('replica-a');
  expect(new Date(renewed.spec!.renewTime!).getTime()).toBe(renewedAt.getTime());
  expect(renewed.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion);
  // A second replica still holding the old resourceVersion loses the race.
  const late = await refusal(
    leases.replaceNamespacedLease({
      namespace,
      name: 'warren-operator',
      body: { metadata: created.metadata, spec: { ...spec, holderIdentity: 'replica-b' } },
    }),
  );
  expect(late.code).toBe(409);
});

test('a limited identity gets exactly what its Role grants', async () => {
  const namespace = await freshNamespace();
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: 'read-configmaps' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'testers-read-configmaps' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-configmaps' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'warren:testers' }],
    },
  });
  const alice = await plane.mintIdentity('alice', ['warren:testers']);
  const asAlice = clientConfig(alice.kubeconfigPath).makeApiClient(k8s.CoreV1Api);

  await expect(asAlice.listNamespacedConfigMap({ namespace })).resolves.toHaveProperty('items');
  const write = await refusal(
    asAlice.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'x' } } }),
  );
  expect(write.code).toBe(403);
  expect(write.message).toContain(
    `User "alice" cannot create resource "configmaps" in API group "" in the namespace "${namespace}"`,
  );
  const secrets = await refusal(asAlice.listNamespacedSecret({ namespace }));
  expect(secrets.code).toBe(403);
  const elsewhere = await refusal(asAlice.listNamespacedConfigMap({ namespace: 'default' }));
  expect(elsewhere.code).toBe(403);
});

describe('helm', () => {
  const chart = path.join(fixtures, 'charts', 'demo');
  const helm = (...args: string[]) => run(plane.binaries.helm, args, { env: plane.env });

  test('lints and templates the chart', async () => {
    const lint = await helm('lint', chart, '--strict');
    expect(lint.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    const rendered = await helm('template', 'demo', chart, '--set', 'greeting=hi');
    expect(rendered.stdout).toContain('name: demo-config');
    expect(rendered.stdout).toContain('greeting: "hi"');
    // helm is stamped with the pinned minor, so kubeVersion constraints check against it offline.
    const pinnedMinor = readKubePins().kubernetes.replace(/\.\d+$/, '.0');
    expect(rendered.stdout).toContain(`kubeVersion: "${pinnedMinor}"`);
  });

  test('installs the chart into the API server', async () => {
    const namespace = `helm-${process.pid}`;
    const install = await helm(
      'install',
      'demo',
      chart,
      '--namespace',
      namespace,
      '--create-namespace',
    );
    expect(install.stdout).toContain('STATUS: deployed');
    const config = await core.readNamespacedConfigMap({ namespace, name: 'demo-config' });
    expect(config.data?.greeting).toBe('hello');
    expect(config.data?.kubeVersion).toBe(plane.kubernetesVersion); // install sees the real server
    // The chart's ServiceAccount gets exactly what the chart's Role grants.
    const account = await plane.mintServiceAccount(namespace, 'demo');
    const asAccount = clientConfig(account.kubeconfigPath).makeApiClient(k8s.CoreV1Api);
    await expect(asAccount.listNamespacedConfigMap({ namespace })).resolves.toHaveProperty('items');
    expect((await refusal(asAccount.listNamespacedSecret({ namespace }))).code).toBe(403);

    const list = await helm('list', '--namespace', namespace, '--output', 'json');
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ name: 'demo', status: 'deployed' }),
    ]);
  });
});
