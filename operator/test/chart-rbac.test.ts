/**
 * The Helm chart: it lints and renders, installs the whole platform into a real API server, and
 * the operator runs under exactly the RBAC the chart grants (a minted identity bound to the
 * chart's roles): the chart's own routes become Ready, its migrations get their Jobs, and every
 * Secret and ConfigMap the services' Deployments reference is written by the operator.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ensureKedaCrds, eventually } from '@warren/testing';
import type { EventRoute } from '@warren/crds';
import { KubeApiError, KubeClient } from '../src/kube/client';
import { CHART as chart, RELEASE, renderChart } from './support/chart';
import { startOperatorTestEnv, type OperatorTestEnv } from './support/operator-env';

jest.setTimeout(180_000);
const run = promisify(execFile);
const SERVICES = ['notification-service', 'order-service', 'user-service'];

let env: OperatorTestEnv;

beforeAll(async () => {
  env = await startOperatorTestEnv('chart');
  // KEDA's CRDs, so the operator's autoscaling runs under the chart's RBAC too.
  await env.plane.installCrds(await ensureKedaCrds());
});
afterAll(() => env?.dispose());

const helm = (...args: string[]) => run(env.plane.binaries.helm!, args, { env: env.plane.env });
const ns = () => env.namespace;
const rendered = (...args: string[]) =>
  renderChart(
    env.plane.binaries.helm!,
    ns(),
    ['--kube-version', env.plane.kubernetesVersion, ...args],
    env.plane.env,
  );

it('lints and renders the platform: operator, services, migrations, reference topology', async () => {
  const lint = await helm('lint', chart, '--kube-version', env.plane.kubernetesVersion);
  expect(lint.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  const docs = await rendered();
  const named = (kind: string) =>
    docs
      .filter((doc) => doc.kind === kind)
      .map((doc) => doc.metadata.name)
      .sort();
  expect(named('Deployment')).toEqual([...SERVICES, `${RELEASE}-operator`]);
  expect(named('DatabaseMigration')).toEqual(SERVICES);
  expect(named('EventRoute')).toHaveLength(4);
  expect(named('RetryPolicy')).toEqual(['three-strikes']);
  expect(named('ClusterRole')).toEqual([`${RELEASE}-operator`]);
  // helm uninstall: a pre-delete hook stops the services, then deletes exactly the chart's routes.
  const hook = docs.find(
    (doc) => doc.kind === 'Job' && doc.metadata.name === `${RELEASE}-operator-uninstall`,
  );
  expect(hook?.metadata.annotations?.['helm.sh/hook']).toBe('pre-delete');
  const hookPod = hook?.spec.template.spec;
  expect(hookPod.initContainers.map((c: { name: string }) => c.name)).toEqual([
    'scale-services-to-zero',
    'wait-for-services-to-stop',
  ]);
  expect(
    hookPod.containers[0].command.filter((arg: string) => arg.startsWith('eventroute.')),
  ).toEqual(named('EventRoute').map((name) => `eventroute.warren.dev/${name}`));

  // Only the operator without services and topology; a ServiceMonitor on request.
  const bare = await rendered('--set', 'services.enabled=false,topology.enabled=false');
  expect(bare.map((doc) => doc.kind)).not.toContain('EventRoute');
  expect(bare.filter((doc) => doc.kind === 'Deployment')).toHaveLength(1);
  expect(bare.map((doc) => doc.kind)).not.toContain('Job');
  const monitored = await rendered('--set', 'monitoring.serviceMonitor=true');
  expect(monitored.map((doc) => doc.kind)).toContain('ServiceMonitor');
  // The release namespace must be watched when the chart puts objects into it.
  const refused = await rendered('--set', 'operator.watchNamespaces={elsewhere}').then(
    () => '',
    (error: { stderr: string }) => error.stderr,
  );
  expect(refused).toContain(
    `release namespace ${ns()}, which operator.watchNamespaces [elsewhere]`,
  );
});

it('installs into the real API server (CRDs included)', async () => {
  // The databases' Secrets are the user's (values services.apps.<name>.database).
  for (const service of SERVICES) {
    await env.admin.create(`/api/v1/namespaces/${ns()}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${service}-db`, namespace: ns() },
      stringData: { DATABASE_URL: `postgresql://${service}@postgres.example:5432/${service}` },
    });
  }
  const installed = await helm(
    'install',
    RELEASE,
    chart,
    '--namespace',
    ns(),
    // The operator runs in-process below, under the identity the chart's roles are bound to.
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
  await env.admin.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns()}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'operator-under-test-leader-election', namespace: ns() },
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: `${RELEASE}-operator-leader-election`,
    },
    subjects: subject,
  });

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
    // KEDA: only ScaledObjects and TriggerAuthentications, never ScaledJobs or cluster-wide auths.
    limited.list(`/apis/keda.sh/v1alpha1/namespaces/${env.namespace}/scaledjobs`),
    limited.list('/apis/keda.sh/v1alpha1/clustertriggerauthentications'),
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
    leaseNamespace: ns(),
  });
  // The chart's own routes (examples/), reconciled under the chart's RBAC.
  await eventually('every route of the chart Ready under the chart identity', async () => {
    const routes = await env.admin.list<EventRoute>(
      `/apis/warren.dev/v1alpha1/namespaces/${ns()}/eventroutes`,
    );
    return (
      routes.items.length === 4 &&
      routes.items.every((r) =>
        r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      )
    );
  });
  const lease = await env.admin.get<{ spec: { holderIdentity: string } }>(
    `/apis/coordination.k8s.io/v1/namespaces/${ns()}/leases/${RELEASE}-operator`,
  );
  expect(lease.spec.holderIdentity).toMatch(/^operator-/);

  // Autoscaling one of the chart's routes: the KEDA objects are written under the chart's RBAC.
  await env.admin.mergePatch(
    `/apis/warren.dev/v1alpha1/namespaces/${ns()}/eventroutes/user-created-to-notification`,
    { spec: { consumer: { autoscaling: { maxReplicas: 3, targetQueueLength: 50 } } } },
  );
  await eventually('the ScaledObject written under the chart identity', async () => {
    const route = await env.admin.get<EventRoute>(
      `/apis/warren.dev/v1alpha1/namespaces/${ns()}/eventroutes/user-created-to-notification`,
    );
    return route.status?.conditions?.some(
      (c) => c.type === 'Autoscaling' && c.reason === 'WaitingForKeda',
    );
  });
  expect(
    await env.admin.get(
      `/apis/keda.sh/v1alpha1/namespaces/${ns()}/scaledobjects/warren-notification-service`,
    ),
  ).toBeDefined();

  // The chart's migrations: the operator reads each Secret, creates the Job (owned by the
  // migration) and writes the status.
  await eventually('a migration Job per service under the chart identity', async () => {
    const jobs = await env.admin.list<{ metadata: { labels: Record<string, string> } }>(
      `/apis/batch/v1/namespaces/${ns()}/jobs`,
      { labelSelector: 'warren.dev/database-migration' },
    );
    const migrations = await env.admin.list<{
      status?: { conditions?: { type: string; reason: string }[] };
    }>(`/apis/warren.dev/v1alpha1/namespaces/${ns()}/databasemigrations`);
    return (
      jobs.items
        .map((job) => job.metadata.labels['warren.dev/service'])
        .sort()
        .join() === SERVICES.join() &&
      migrations.items.every((m) =>
        m.status?.conditions?.some((c) => c.type === 'Reconciling' && c.reason === 'JobRunning'),
      )
    );
  });
});

interface PodSpec {
  serviceAccountName: string;
  containers: {
    env?: {
      name: string;
      value?: string;
      valueFrom?: { secretKeyRef?: { name: string; key: string } };
    }[];
    volumeMounts?: { name: string; mountPath: string }[];
  }[];
  volumes?: { name: string; configMap?: { name: string } }[];
}

it("wires each service's Deployment to what the operator wrote, and lets it only wait for its migration", async () => {
  for (const service of SERVICES) {
    const deployment = await env.admin.get<{ spec: { template: { spec: PodSpec } } }>(
      `/apis/apps/v1/namespaces/${ns()}/deployments/${service}`,
    );
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0]!;
    // Every Secret key the container reads exists: the database URL (the user's Secret) and the
    // broker URL (the operator's Secret, with this service's own user).
    const secretRefs = (container.env ?? []).flatMap((v) =>
      v.valueFrom?.secretKeyRef ? [{ variable: v.name, ...v.valueFrom.secretKeyRef }] : [],
    );
    expect(secretRefs.map((ref) => ref.variable).sort()).toEqual(['DATABASE_URL', 'RABBITMQ_URL']);
    for (const ref of secretRefs) {
      const secret = await env.admin.get<{ data: Record<string, string> }>(
        `/api/v1/namespaces/${ns()}/secrets/${ref.name}`,
      );
      expect(Object.keys(secret.data)).toContain(ref.key);
    }
    const brokerUrl = secretRefs.find((ref) => ref.variable === 'RABBITMQ_URL')!;
    const secret = await env.admin.get<{ data: Record<string, string> }>(
      `/api/v1/namespaces/${ns()}/secrets/${brokerUrl.name}`,
    );
    const url = new URL(Buffer.from(secret.data[brokerUrl.key]!, 'base64').toString('utf8'));
    expect(decodeURIComponent(url.username)).toContain(service);

    // The topology file the service reads is the operator's ConfigMap for this service.
    const file = container.env!.find((v) => v.name === 'WARREN_TOPOLOGY_FILE')!.value!;
    const mount = container.volumeMounts!.find((m) => file.startsWith(`${m.mountPath}/`))!;
    const configMapName = pod.volumes!.find((v) => v.name === mount.name)!.configMap!.name;
    const configMap = await env.admin.get<{ data: Record<string, string> }>(
      `/api/v1/namespaces/${ns()}/configmaps/${configMapName}`,
    );
    const document = JSON.parse(configMap.data[path.basename(file)]!) as { service: string };
    expect(document.service).toBe(service);

    // Its ServiceAccount may watch DatabaseMigrations (kubectl wait) and nothing else.
    const allowed = async (verb: string, group: string, resource: string) => {
      const review = await env.admin.create<{ status: { allowed: boolean } }>(
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: `system:serviceaccount:${ns()}:${pod.serviceAccountName}`,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${ns()}`],
            resourceAttributes: { namespace: ns(), verb, group, resource },
          },
        },
      );
      return review.status.allowed;
    };
    expect(pod.serviceAccountName).toBe(service);
    expect(await allowed('watch', 'warren.dev', 'databasemigrations')).toBe(true);
    expect(await allowed('get', '', 'secrets')).toBe(false);
    expect(await allowed('patch', 'warren.dev', 'databasemigrations')).toBe(false);
  }
});
