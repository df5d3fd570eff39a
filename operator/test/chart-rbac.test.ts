/**
 * The Helm chart: it lints and renders, installs into a real API server, and the operator runs
 * under exactly the RBAC the chart grants (a minted identity bound to the chart's roles).
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { eventually, repoRoot } from '@warren/testing';
import type { EventRoute } from '@warren/crds';
import { KubeApiError, KubeClient } from '../src/kube/client';
import {
  applyManifest,
  loadManifests,
  startOperatorTestEnv,
  type OperatorTestEnv,
} from './support/operator-env';

jest.setTimeout(180_000);
const run = promisify(execFile);
const chart = path.join(repoRoot, 'charts/warren');
const RELEASE = 'warren';
const RELEASE_NAMESPACE = 'warren-system';

let env: OperatorTestEnv;

beforeAll(async () => {
  env = await startOperatorTestEnv('chart');
});
afterAll(() => env?.dispose());

const helm = (...args: string[]) => run(env.plane.binaries.helm!, args, { env: env.plane.env });

it('lints and renders with the API server version', async () => {
  const version = env.plane.kubernetesVersion;
  const lint = await helm('lint', chart, '--kube-version', version);
  expect(lint.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  const rendered = await helm(
    'template',
    RELEASE,
    chart,
    '--namespace',
    RELEASE_NAMESPACE,
    '--kube-version',
    version,
  );
  const kinds = parseAllDocuments(rendered.stdout)
    .map((doc) => doc.toJS()?.kind)
    .filter(Boolean);
  expect(kinds).toEqual(
    expect.arrayContaining([
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Deployment',
      'Service',
    ]),
  );
});

it('installs into the real API server (CRDs included)', async () => {
  await env.admin
    .create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: RELEASE_NAMESPACE },
    })
    .catch(() => undefined);
  const installed = await helm(
    'install',
    RELEASE,
    chart,
    '--namespace',
    RELEASE_NAMESPACE,
    '--set',
    'operator.replicas=0',
  );
  expect(installed.stdout).toContain('STATUS: deployed');
  const role = await env.admin.get<{ rules: unknown[] }>(
    `/apis/rbac.authorization.k8s.io/v1/clusterroles/${RELEASE}-operator`,
  );
  expect(role.rules.length).toBeGreaterThan(0);
});

it('runs the operator under exactly the chart RBAC, which refuses what it does not grant', async () => {
  const identity = await env.plane.mintIdentity('warren-operator-under-test');
  const subject = [{ kind: 'User', name: identity.user, apiGroup: 'rbac.authorization.k8s.io' }];
  await env.admin.create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'operator-under-test' },
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: `${RELEASE}-operator`,
    },
    subjects: subject,
  });
  await env.admin.create(
    `/apis/rbac.authorization.k8s.io/v1/namespaces/${RELEASE_NAMESPACE}/rolebindings`,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'operator-under-test-leader-election', namespace: RELEASE_NAMESPACE },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: `${RELEASE}-operator-leader-election`,
      },
      subjects: subject,
    },
  );

  const limited = KubeClient.fromKubeconfigFile(identity.kubeconfigPath);
  // Not granted: deleting namespaces, a pod's logs or spec by name (pods are only listed, for a
  // failed migration's termination message), writing the CRDs themselves.
  for (const call of [
    limited.remove(`/api/v1/namespaces/${env.namespace}`),
    limited.get(`/api/v1/namespaces/${env.namespace}/pods/any/log`),
    limited.get(`/api/v1/namespaces/${env.namespace}/pods/any`),
    limited.remove(`/api/v1/namespaces/${env.namespace}/pods/any`),
    limited.remove(
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/eventroutes.warren.dev',
    ),
  ]) {
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).status).toBe(403);
  }

  await env.startOperator({
    kubeconfig: identity.kubeconfigPath,
    leaseNamespace: RELEASE_NAMESPACE,
  });
  for (const doc of loadManifests(path.join(repoRoot, 'examples'), env.namespace))
    await applyManifest(env.admin, doc);
  await eventually('every route Ready under the chart identity', async () => {
    const routes = await env.admin.list<EventRoute>(
      `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes`,
    );
    return (
      routes.items.length === 4 &&
      routes.items.every((r) =>
        r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      )
    );
  });
  const lease = await env.admin.get<{ spec: { holderIdentity: string } }>(
    `/apis/coordination.k8s.io/v1/namespaces/${RELEASE_NAMESPACE}/leases/warren-operator`,
  );
  expect(lease.spec.holderIdentity).toMatch(/^operator-/);
  await env.admin.get(`/api/v1/namespaces/${env.namespace}/secrets/warren-broker-order-service`);

  // DatabaseMigrations: the chart lets the operator read the Secret, create the Job (owned by the
  // migration) and write the status.
  await env.admin.create(`/api/v1/namespaces/${env.namespace}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'user-db', namespace: env.namespace },
    stringData: { DATABASE_URL: 'postgresql://user@postgres.example:5432/users' },
  });
  await applyManifest(env.admin, {
    apiVersion: 'warren.dev/v1alpha1',
    kind: 'DatabaseMigration',
    metadata: { name: 'user-service', namespace: env.namespace },
    spec: {
      service: 'user-service',
      image: 'registry.example/warren/user-service:1.0.0',
      database: { secretRef: { name: 'user-db' } },
    },
  });
  await eventually('the migration Job under the chart identity', async () => {
    const jobs = await env.admin.list(`/apis/batch/v1/namespaces/${env.namespace}/jobs`, {
      labelSelector: 'warren.dev/database-migration=user-service',
    });
    const migration = await env.admin.get<{
      status?: { conditions?: { type: string; reason: string }[] };
    }>(`/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/databasemigrations/user-service`);
    return (
      jobs.items.length === 1 &&
      migration.status?.conditions?.some(
        (c) => c.type === 'Reconciling' && c.reason === 'JobRunning',
      )
    );
  });
});
