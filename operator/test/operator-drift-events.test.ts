/**
 * Drift in seconds, against a real kube-apiserver and RabbitMQ: with the resync period at 10
 * minutes, a queue, a binding and a service user deleted by hand are each back, with their
 * DriftDetected and Repaired Events, within 5 s, because the operator hears the broker's own
 * deletion events (amq.rabbitmq.event) instead of waiting for the next read-back.
 */
import * as amqp from 'amqplib';
import { eventually, managementRequest } from '@warren/testing';
import type { EventRoute } from '@warren/crds';
import { applyExamplesUntilReady, operatorMetric, operatorSuite } from './support/operator-env';

jest.setTimeout(180_000);

const suite = operatorSuite('drift', { resyncSeconds: 600 });
const QUEUE = 'notification-service.user-created-to-notification';
const ROUTE = 'user-created-to-notification';

const v = () => encodeURIComponent(suite.env.vhost.vhost);
const api = <T>(method: string, resource: string) =>
  managementRequest<T>(suite.env.vhost.managementUrl, method, resource);
const routesPath = () => `/apis/warren.dev/v1alpha1/namespaces/${suite.env.namespace}/eventroutes`;
type KubeEvent = {
  metadata: { name: string };
  reason: string;
  message: string;
  count?: number;
  involvedObject: { name: string };
};
/** Each Event (name and count) of a reason: a new one, or a higher count, is a new occurrence. */
const occurrences = async (reason: string, route: string) =>
  new Map(
    (
      await suite.env.admin.list<KubeEvent>(`/api/v1/namespaces/${suite.env.namespace}/events`)
    ).items
      .filter((e) => e.reason === reason && e.involvedObject.name === route)
      .map((e) => [e.metadata.name, { count: e.count ?? 1, message: e.message }]),
  );
const metric = (name: string) => operatorMetric(suite.operator, name);

/** Deletes by hand, then waits for the object, a new DriftDetected naming it and a new Repaired. */
async function repairedWithin(
  what: { route: string; mentions: string },
  remove: () => Promise<unknown>,
  isBack: () => Promise<boolean>,
): Promise<number> {
  const [drifts, repairs] = [
    await occurrences('DriftDetected', what.route),
    await occurrences('Repaired', what.route),
  ];
  type Seen = Map<string, { count: number; message: string }>;
  const fresh = (before: Seen, now: Seen) =>
    [...now].filter(([name, e]) => (before.get(name)?.count ?? 0) < e.count);
  const start = Date.now();
  await remove();
  await eventually(
    `${what.mentions} back with DriftDetected and Repaired`,
    async () => {
      const drifted = fresh(drifts, await occurrences('DriftDetected', what.route)).some(([, e]) =>
        e.message.includes(what.mentions),
      );
      return (
        drifted && fresh(repairs, await occurrences('Repaired', what.route)).length > 0 && isBack()
      );
    },
    15_000,
    100,
  );
  const elapsed = Date.now() - start;
  if (process.env.WARREN_TEST_PRINT_TIMES) console.log(`${what.mentions}: ${elapsed} ms`);
  return elapsed;
}

beforeAll(async () => {
  await applyExamplesUntilReady(suite.env);
  await eventually(
    'the operator to hear broker events',
    async () => (await metric('warren_broker_events_subscribed')) === 1,
  );
});

const queueNames = async () =>
  (await api<{ name: string }[]>('GET', `/api/queues/${v()}`)).map((q) => q.name);

it('repairs a queue deleted by hand within 5 s, with DriftDetected and Repaired Events', async () => {
  const elapsed = await repairedWithin(
    { route: ROUTE, mentions: `queue ${QUEUE}` },
    () => api('DELETE', `/api/queues/${v()}/${encodeURIComponent(QUEUE)}`),
    async () => (await queueNames()).includes(QUEUE),
  );
  expect(elapsed).toBeLessThan(5000);
  const route = await suite.env.admin.get<EventRoute>(`${routesPath()}/${ROUTE}`);
  expect(route.status?.brokerReadAt).toBeDefined();
});

it('says in its own health that it hears the broker events', async () => {
  const port = (suite.operator.server.address() as { port: number }).port;
  const health = await fetch(`http://127.0.0.1:${port}/healthz?verbose`);
  expect(await health.text()).toContain(
    '[+]broker-events ok: subscribed to amq.rabbitmq.event in vhost /: drift is repaired in seconds',
  );
});

it('repairs a binding deleted by hand within 5 s', async () => {
  type Binding = {
    source: string;
    destination: string;
    properties_key: string;
    routing_key: string;
  };
  const bindings = () => api<Binding[]>('GET', `/api/bindings/${v()}`);
  const binding = (await bindings()).find(
    (b) => b.source === 'user.events' && b.destination === QUEUE,
  )!;
  const elapsed = await repairedWithin(
    { route: ROUTE, mentions: `binding user.events -> ${QUEUE}` },
    () =>
      api(
        'DELETE',
        `/api/bindings/${v()}/e/user.events/q/${encodeURIComponent(QUEUE)}/${encodeURIComponent(binding.properties_key)}`,
      ),
    async () =>
      (await bindings()).some((b) => b.source === 'user.events' && b.destination === QUEUE),
  );
  expect(elapsed).toBeLessThan(5000);
});

it('recreates a service user deleted by hand within 5 s, with the password its Secret holds', async () => {
  const user = `warren-order-service@${suite.env.vhost.vhost}`;
  const users = async () => (await api<{ name: string }[]>('GET', '/api/users')).map((u) => u.name);
  const elapsed = await repairedWithin(
    { route: 'order-created-to-user', mentions: `user ${user}` },
    () => api('DELETE', `/api/users/${encodeURIComponent(user)}`),
    async () => (await users()).includes(user),
  );
  expect(elapsed).toBeLessThan(5000);
  const secret = await suite.env.admin.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${suite.env.namespace}/secrets/warren-broker-order-service`,
  );
  const connection = await amqp.connect(Buffer.from(secret.data.url!, 'base64').toString());
  await connection.close();
});

it('without the event exchange it says so (warren_broker_events_subscribed 0) and repairs at the read-back', async () => {
  await suite.operator.stop();
  // The test vhost has no amq.rabbitmq.event: as on a broker without the plugin.
  suite.operator = await suite.env.startOperator({
    resyncSeconds: 2,
    brokerEventsVhost: suite.env.vhost.vhost,
  });
  await eventually('the new operator to lead', async () => suite.operator.isLeader(), 30_000);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect(await metric('warren_broker_events_subscribed')).toBe(0);
  // And in the operator's own health, which it does not fail.
  const port = (suite.operator.server.address() as { port: number }).port;
  const health = await fetch(`http://127.0.0.1:${port}/readyz?verbose`);
  expect(health.status).toBe(200);
  expect(await health.text()).toBe(
    [
      '[+]readyz ok',
      `[-]broker-events failed: the broker has no amq.rabbitmq.event in vhost ${suite.env.vhost.vhost} (enable the rabbitmq_event_exchange plugin): drift is found at the periodic read-back only (not required)`,
      'readyz check passed',
      '',
    ].join('\n'),
  );
  await repairedWithin(
    { route: ROUTE, mentions: `queue ${QUEUE}` },
    () => api('DELETE', `/api/queues/${v()}/${encodeURIComponent(QUEUE)}`),
    async () => (await queueNames()).includes(QUEUE),
  );
});
