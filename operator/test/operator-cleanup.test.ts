/**
 * Nothing left behind, no wasted calls: against a real kube-apiserver and RabbitMQ, deleting
 * every route removes every ConfigMap, Secret, broker user and object of Warren's but the
 * retained queue's group (and the user and Secret its service drains it with, until it is
 * drained), and the delete pass makes no management call that answers 404.
 */
import * as amqp from 'amqplib';
import { eventually, managementRequest } from '@warren/testing';
import type { EventRoute } from '@warren/crds';
import {
  applyExamplesUntilReady,
  operatorMetric,
  operatorSuite,
  scrapeOperator,
} from './support/operator-env';

jest.setTimeout(180_000);

const suite = operatorSuite('cleanup');
const RETAINED = 'notification-service.user-created-to-notification';

const routesPath = () => `/apis/warren.dev/v1alpha1/namespaces/${suite.env.namespace}/eventroutes`;
const managed = (plural: 'configmaps' | 'secrets') =>
  suite.env.admin
    .list<{ metadata: { name: string } }>(`/api/v1/namespaces/${suite.env.namespace}/${plural}`, {
      labelSelector: 'app.kubernetes.io/managed-by=warren',
    })
    .then((list) => list.items.map((item) => item.metadata.name).sort());
const broker = <T>(resource: string) =>
  managementRequest<T[]>(
    suite.env.vhost.managementUrl,
    'GET',
    `/api/${resource}/${encodeURIComponent(suite.env.vhost.vhost)}`,
  );
const warrenUsers = async () =>
  (await managementRequest<{ name: string }[]>(suite.env.vhost.managementUrl, 'GET', '/api/users'))
    .map((user) => user.name)
    .filter((name) => name.endsWith(`@${suite.env.vhost.vhost}`))
    .sort();
const metric = (name: string) => operatorMetric(suite.operator, name);

it('leaves nothing of Warren behind when every route is deleted but the retained queue, and makes no call that answers 404', async () => {
  await applyExamplesUntilReady(suite.env);
  expect(await managed('secrets')).toEqual([
    'warren-broker-notification-service',
    'warren-broker-order-service',
    'warren-broker-user-service',
  ]);
  // One message keeps its queue (deletionPolicy Retain) and the user of the service reading it.
  const connection = await amqp.connect(suite.env.vhost.amqpUrl);
  const channel = await connection.createConfirmChannel();
  channel.sendToQueue(RETAINED, Buffer.from('{}'), { persistent: true });
  await channel.waitForConfirms();
  // The read-back's queue totals lag a few seconds (quorum queues report them periodically).
  await eventually('the broker to count the message', async () =>
    (await broker<{ name: string; messages?: number }>('queues')).some(
      (q) => q.name === RETAINED && q.messages === 1,
    ),
  );

  const queueSeries = /^warren_route_(queue_messages|queue_consumers|dead_letter_messages)\{/m;
  expect(await scrapeOperator(suite.operator)).toMatch(queueSeries);
  const notFoundBefore = await metric('warren_broker_http_not_found_total');
  for (const r of (await suite.env.admin.list<EventRoute>(routesPath())).items)
    await suite.env.admin.remove(`${routesPath()}/${r.metadata.name}`);
  await eventually(
    'every route gone',
    async () => (await suite.env.admin.list(routesPath())).items.length === 0,
  );
  await eventually('the other services’ outputs gone', async () => {
    const [configMaps, secrets] = [await managed('configmaps'), await managed('secrets')];
    if (configMaps.length === 0 && secrets.join() === 'warren-broker-notification-service')
      return true;
    throw new Error(`left: ${[...configMaps, ...secrets].join(', ')}`);
  });
  expect(await warrenUsers()).toEqual([`warren-notification-service@${suite.env.vhost.vhost}`]);
  // Only the retained queue's group is left of Warren's objects on the broker.
  type Marked = { name: string; arguments: Record<string, unknown> };
  const ours = (objects: Marked[]) =>
    objects.filter((o) => o.arguments?.['x-warren-managed-by'] === 'warren');
  const queues = ours(await broker<Marked>('queues'));
  const exchanges = ours(await broker<Marked>('exchanges'));
  expect(queues.map((q) => q.name)).toContain(RETAINED);
  expect(exchanges.length).toBeGreaterThan(0);
  for (const object of [...queues, ...exchanges])
    expect([object.name, object.arguments['x-warren-group'] ?? object.name]).toEqual([
      object.name,
      RETAINED,
    ]);
  expect((await metric('warren_broker_http_not_found_total')) - notFoundBefore).toBe(0);

  // Drained, the queue stays (its route is gone: nobody owns it) and the user and Secret go.
  await channel.purgeQueue(RETAINED);
  await connection.close();
  await eventually(
    'the drained service’s user and Secret gone',
    async () => (await warrenUsers()).length === 0 && (await managed('secrets')).length === 0,
    30_000,
  );
  expect(await managed('configmaps')).toEqual([]);
  expect((await metric('warren_broker_http_not_found_total')) - notFoundBefore).toBe(0);
  // Nor in the metrics: a deleted route's queue series go with it.
  expect(await scrapeOperator(suite.operator)).not.toMatch(queueSeries);
});
