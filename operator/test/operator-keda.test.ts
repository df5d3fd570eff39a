/**
 * KEDA autoscaling from routes, against the real API server with KEDA's own CRDs (from the KEDA
 * Go module, see shared/testing/src/kube/keda.ts) and the real broker: a route's
 * spec.consumer.autoscaling becomes a ScaledObject that KEDA's schema accepts, with its
 * TriggerAuthentication and the Secret of a broker user that sees queue depths and reads no
 * message; two routes into one service share one ScaledObject; KEDA's verdict and an API-server
 * refusal become the route's Autoscaling condition; everything goes with the routes.
 * The namespace's AsyncAPI catalogue (ConfigMap warren-asyncapi) is checked here too, as it
 * needs the same running operator. KEDA's operator itself does not run here (the test cluster has no node yet): where KEDA would
 * write the ScaledObject's status, the test writes it.
 */
import { Parser } from '@asyncapi/parser';
import * as amqp from 'amqplib';
import { parse } from 'yaml';
import { ensureKedaCrds, eventually, managementRequest } from '@warren/testing';
import type { EventRoute } from '@warren/crds';
import { KubeApiError } from '../src/kube/client';
import type { RunningOperator } from '../src/runtime/operator';
import { applyManifest, startOperatorTestEnv, type OperatorTestEnv } from './support/operator-env';

jest.setTimeout(240_000);

let env: OperatorTestEnv;
let operator: RunningOperator | undefined;
const ns = () => env.namespace;
const KEDA = '/apis/keda.sh/v1alpha1';
const SCALED_OBJECT = 'warren-notification-service';
const scaledObjectPath = () => `${KEDA}/namespaces/${ns()}/scaledobjects/${SCALED_OBJECT}`;

interface ScaledObject {
  metadata: { name: string; labels: Record<string, string>; ownerReferences: { name: string }[] };
  spec: {
    scaleTargetRef: { kind: string; name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    triggers: {
      type: string;
      metadata: Record<string, string>;
      authenticationRef: { name: string };
    }[];
  };
}

const routeDoc = (name: string, autoscaling?: Record<string, unknown>) => ({
  apiVersion: 'warren.dev/v1alpha1',
  kind: 'EventRoute',
  metadata: { name, namespace: ns() },
  spec: {
    exchange: { name: 'user.events', type: 'topic' },
    source: { service: 'user-service' },
    events: [`${name}.happened`],
    consumer: { service: 'notification-service', ...(autoscaling && { autoscaling }) },
    deletionPolicy: 'Delete',
  },
});
const getRoute = (name: string) =>
  env.admin.get<EventRoute>(`/apis/warren.dev/v1alpha1/namespaces/${ns()}/eventroutes/${name}`);
const autoscalingOf = async (name: string) =>
  (await getRoute(name)).status?.conditions?.find((c) => c.type === 'Autoscaling');
const waitForReason = (name: string, reason: string) =>
  eventually(`${name} Autoscaling ${reason}`, async () => {
    const condition = await autoscalingOf(name);
    return condition?.reason === reason && condition;
  });
const scaledObject = () => env.admin.find<ScaledObject>(scaledObjectPath());
const scalerUser = () => `warren-keda.scaler@${env.vhost.vhost}`;
const brokerUsers = async () =>
  (
    await managementRequest<{ name: string; tags: string[] | string }[]>(
      env.vhost.managementUrl,
      'GET',
      '/api/users',
    )
  ).filter((u) => u.name === scalerUser());

/** A condition as KEDA's operator writes it on a ScaledObject. */
const kedaCondition = (type: string, status: string, reason: string, message: string) => ({
  type,
  status,
  reason,
  message,
});

beforeAll(async () => {
  env = await startOperatorTestEnv('keda');
});
afterAll(async () => {
  await env?.dispose();
});

it('says KedaNotInstalled when the keda.sh API does not exist, and the route is Ready anyway', async () => {
  operator = await env.startOperator();
  await applyManifest(env.admin, routeDoc('alpha', { maxReplicas: 5, targetQueueLength: 20 }));
  const condition = await waitForReason('alpha', 'KedaNotInstalled');
  expect(condition).toMatchObject({ status: 'False' });
  expect(condition.message).toContain('keda.sh/v1alpha1 API does not exist');
  await eventually('alpha Ready', async () =>
    (await getRoute('alpha')).status?.conditions?.some(
      (c) => c.type === 'Ready' && c.status === 'True',
    ),
  );
  await operator.stop();
});

it("writes a ScaledObject KEDA's own CRD accepts, with a TriggerAuthentication and the scaler's Secret", async () => {
  const crds = await env.plane.installCrds(await ensureKedaCrds());
  expect(crds).toEqual(
    expect.arrayContaining(['scaledobjects.keda.sh', 'triggerauthentications.keda.sh']),
  );
  operator = await env.startOperator();
  const condition = await waitForReason('alpha', 'WaitingForKeda');
  expect(condition.status).toBe('Unknown');
  expect((await getRoute('alpha')).status?.scaledObject).toBe(SCALED_OBJECT);

  const object = (await scaledObject())!;
  const queue = 'notification-service.alpha';
  expect(object.spec).toMatchObject({
    scaleTargetRef: { kind: 'Deployment', name: 'notification-service' },
    minReplicaCount: 1,
    maxReplicaCount: 5,
    triggers: [
      {
        type: 'rabbitmq',
        metadata: {
          protocol: 'http',
          mode: 'QueueLength',
          queueName: queue,
          vhostName: env.vhost.vhost,
          value: '20',
        },
      },
    ],
  });
  expect(object.metadata.ownerReferences.map((o) => o.name)).toEqual(['alpha']);
  const authName = object.spec.triggers[0]!.authenticationRef.name;
  const auth = await env.admin.get<{
    spec: { secretTargetRef: { parameter: string; name: string; key: string }[] };
  }>(`${KEDA}/namespaces/${ns()}/triggerauthentications/${authName}`);
  expect(auth.spec.secretTargetRef).toEqual([{ parameter: 'host', name: authName, key: 'host' }]);
  const secret = await env.admin.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${ns()}/secrets/${authName}`,
  );
  const host = new URL(Buffer.from(secret.data.host!, 'base64').toString());
  expect(decodeURIComponent(host.username)).toBe(scalerUser());
  expect(host.pathname).toBe(`/${encodeURIComponent(env.vhost.vhost)}`);
  expect(host.password).not.toBe(env.vhost.password);

  // The scaler user: tag monitoring, sees the queue's depth, may not read a message.
  const [user] = await brokerUsers();
  expect([user!.tags].flat().join(',')).toContain('monitoring');
  const origin = new URL(host.toString());
  origin.pathname = '/';
  const seen = await managementRequest<{ name: string; messages: number }>(
    origin.toString(),
    'GET',
    `/api/queues/${encodeURIComponent(env.vhost.vhost)}/${encodeURIComponent(queue)}`,
  );
  expect(seen.name).toBe(queue);
  const amqpUrl = new URL(env.vhost.amqpUrl);
  amqpUrl.username = host.username;
  amqpUrl.password = host.password;
  const connection = await amqp.connect(amqpUrl.toString());
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    await expect(channel.get(queue)).rejects.toThrow(/ACCESS[-_]REFUSED/);
  } finally {
    await connection.close().catch(() => undefined);
  }
});

it("publishes the namespace's AsyncAPI document in the ConfigMap warren-asyncapi", async () => {
  const configMap = await eventually('warren-asyncapi written', () =>
    env.admin.find<{ data: Record<string, string> }>(
      `/api/v1/namespaces/${ns()}/configmaps/warren-asyncapi`,
    ),
  );
  const text = configMap.data['asyncapi.yaml']!;
  const { diagnostics } = await new Parser().parse(text);
  expect(diagnostics.filter((d) => d.severity < 2)).toEqual([]);
  const document = parse(text);
  expect(Object.keys(document.channels)).toEqual(
    expect.arrayContaining(['exchange.user.events', 'queue.notification-service.alpha']),
  );
  expect(text).not.toContain(env.vhost.password);
});

it("mirrors KEDA's verdict on the ScaledObject into the route's Autoscaling condition", async () => {
  const writeStatus = (conditions: Record<string, string>[]) =>
    env.admin.mergePatch(`${scaledObjectPath()}/status`, { status: { conditions } });
  await writeStatus([
    kedaCondition(
      'Ready',
      'True',
      'ScaledObjectReady',
      'ScaledObject is defined correctly and is ready for scaling',
    ),
    kedaCondition(
      'Active',
      'False',
      'ScalerNotActive',
      'Scaling is not performed because triggers are not active',
    ),
  ]);
  const ready = await waitForReason('alpha', 'ScalerReady');
  expect(ready).toMatchObject({ status: 'True' });
  expect(ready.message).toContain('ready for scaling; Active=False');
  await writeStatus([
    kedaCondition('Ready', 'False', 'ScaledObjectCheckFailed', "Target resource doesn't exist"),
  ]);
  const notReady = await waitForReason('alpha', 'ScalerNotReady');
  expect(notReady).toMatchObject({ status: 'False' });
  expect(notReady.message).toContain("Target resource doesn't exist");
});

it('combines two routes into one service into one ScaledObject, one trigger per queue; disagreeing bounds are a conflict', async () => {
  await applyManifest(
    env.admin,
    routeDoc('beta', { maxReplicas: 5, targetQueueLength: 7, activationQueueLength: 2 }),
  );
  await eventually('two triggers', async () => (await scaledObject())?.spec.triggers.length === 2);
  const object = (await scaledObject())!;
  expect(
    object.spec.triggers.map((t) => [
      t.metadata.queueName,
      t.metadata.value,
      t.metadata.activationValue,
    ]),
  ).toEqual([
    ['notification-service.alpha', '20', undefined],
    ['notification-service.beta', '7', '2'],
  ]);
  expect(object.metadata.ownerReferences.map((o) => o.name)).toEqual(['alpha', 'beta']);
  // The route's status is written after the ScaledObject it names.
  await eventually(
    'beta names the ScaledObject',
    async () => (await getRoute('beta')).status?.scaledObject === SCALED_OBJECT,
  );

  await applyManifest(env.admin, routeDoc('beta', { maxReplicas: 9, targetQueueLength: 7 }));
  const conflict = await waitForReason('beta', 'AutoscalingConflict');
  expect(conflict.message).toContain(
    'alpha (Deployment notification-service 1..5), beta (Deployment notification-service 1..9)',
  );
  expect((await autoscalingOf('alpha'))?.reason).toBe('AutoscalingConflict');
  // Held as it was, not removed, while the routes disagree.
  expect((await scaledObject())?.spec.triggers).toHaveLength(2);
  await applyManifest(env.admin, routeDoc('beta', { maxReplicas: 5, targetQueueLength: 7 }));
  await waitForReason('beta', 'ScalerNotReady');
});

it("says ScalerRefused with the API server's message when the ScaledObject is refused", async () => {
  // KEDA's admission webhook refuses, e.g., a second scaler on one workload; a
  // ValidatingAdmissionPolicy refuses the same way from inside the API server.
  const admission = '/apis/admissionregistration.k8s.io/v1';
  await env.admin.create(`${admission}/validatingadmissionpolicies`, {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: 'keda-max-replicas' },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: ['keda.sh'],
            apiVersions: ['v1alpha1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['scaledobjects'],
          },
        ],
      },
      validations: [
        {
          expression: 'object.spec.maxReplicaCount <= 10',
          message: 'this cluster allows at most 10 replicas per workload',
        },
      ],
    },
  });
  await env.admin.create(`${admission}/validatingadmissionpolicybindings`, {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: 'keda-max-replicas' },
    spec: { policyName: 'keda-max-replicas', validationActions: ['Deny'] },
  });
  // The policy takes effect a moment after it is created: wait until a dry run is refused.
  const probe = (await scaledObject())!;
  await eventually('the admission policy in force', () =>
    env.admin
      .request('POST', `${KEDA}/namespaces/${ns()}/scaledobjects`, {
        query: { dryRun: 'All' },
        body: {
          ...probe,
          metadata: { name: 'probe', namespace: ns() },
          spec: { ...probe.spec, maxReplicaCount: 11 },
        },
      })
      .then(
        () => false,
        (error) => error instanceof KubeApiError && [403, 422].includes(error.status),
      ),
  );
  for (const name of ['alpha', 'beta'])
    await applyManifest(env.admin, routeDoc(name, { maxReplicas: 20, targetQueueLength: 7 }));
  const refused = await waitForReason('alpha', 'ScalerRefused');
  expect(refused).toMatchObject({ status: 'False' });
  expect(refused.message).toContain('this cluster allows at most 10 replicas per workload');
  expect((await scaledObject())?.spec.maxReplicaCount).toBe(5);
  for (const name of ['alpha', 'beta'])
    await applyManifest(env.admin, routeDoc(name, { maxReplicas: 10, targetQueueLength: 7 }));
  await eventually(
    'max 10 applied',
    async () => (await scaledObject())?.spec.maxReplicaCount === 10,
  );
});

it('removes the trigger, then the ScaledObject, TriggerAuthentication, Secret and scaler user with the routes', async () => {
  const authName = (await scaledObject())!.spec.triggers[0]!.authenticationRef.name;
  // Autoscaling off on alpha: its trigger and condition go.
  await env.admin.mergePatch(`/apis/warren.dev/v1alpha1/namespaces/${ns()}/eventroutes/alpha`, {
    spec: { consumer: { autoscaling: null } },
  });
  await eventually('one trigger', async () => (await scaledObject())?.spec.triggers.length === 1);
  await eventually('alpha without Autoscaling condition', async () => {
    const r = await getRoute('alpha');
    return !r.status?.conditions?.some((c) => c.type === 'Autoscaling') && r;
  });
  await env.admin.remove(`/apis/warren.dev/v1alpha1/namespaces/${ns()}/eventroutes/beta`);
  await eventually('ScaledObject gone', async () => (await scaledObject()) === undefined);
  await eventually('TriggerAuthentication and Secret gone', async () => {
    const gone = async (path: string) =>
      env.admin.get(path).then(
        () => false,
        (error) => error instanceof KubeApiError && error.status === 404,
      );
    return (
      (await gone(`${KEDA}/namespaces/${ns()}/triggerauthentications/${authName}`)) &&
      (await gone(`/api/v1/namespaces/${ns()}/secrets/${authName}`))
    );
  });
  await eventually(
    'scaler user removed from the broker',
    async () => (await brokerUsers()).length === 0,
  );
});
