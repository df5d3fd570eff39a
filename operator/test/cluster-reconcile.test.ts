/**
 * A node of the three-node cluster stopped while the operator reconciles (the matrix's cluster
 * leg, `WARREN_RABBITMQ_NODES=3`; skipped on a single node). The operator is given every node's
 * management URL, the stopped node's first: its calls go to a live node, a route applied
 * meanwhile becomes Ready, and every route says Degraded (BrokerNodeDown, naming the node) while
 * the cluster is short, then Ready and not Degraded once the node is back.
 */
import { eventually, loadInfraConfig, RabbitMqServer, withBrokerFault } from '@warren/testing';
import type { EventRoute } from '@warren/crds';
import { brokerSettings } from '../src/broker/settings';
import { applyManifest, startOperatorTestEnv, type OperatorTestEnv } from './support/operator-env';
import { route as routeResource } from './resources';

const managementUrls = (process.env.RABBITMQ_MANAGEMENT_URLS ?? '').split(',').filter(Boolean);
const clustered = managementUrls.length >= 3;

type RabbitMqNode = RabbitMqServer['nodes'][number];

(clustered ? describe : describe.skip)(
  'a cluster node stopped while the operator reconciles (cluster only)',
  () => {
    jest.setTimeout(300_000);
    const cluster = new RabbitMqServer(loadInfraConfig());
    const log = () => undefined;
    let env: OperatorTestEnv;
    /** The node stopped: not the first, which the suites running beside this one use. */
    let stopped: RabbitMqNode;

    const get = (name: string) =>
      env.admin.get<EventRoute>(
        `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes/${name}`,
      );
    const condition = (r: EventRoute, type: string) =>
      r.status?.conditions?.find((c) => c.type === type);
    const apply = (name: string) =>
      applyManifest(env.admin, {
        ...routeResource(name),
        metadata: { name, namespace: env.namespace },
      });
    /** Waits until every route's Ready and Degraded conditions are as `expected` says. */
    const statusOf = (names: string[], expected: (r: EventRoute) => boolean, what: string) =>
      eventually(
        what,
        async () => {
          const routes = await Promise.all(names.map(get));
          return routes.every(expected) ? routes : undefined;
        },
        120_000,
      );

    beforeAll(async () => {
      stopped = cluster.nodes[2]!;
      env = await startOperatorTestEnv('cluster_reconcile');
      // The suite's vhost credentials, on each node; the node to be stopped first in the list.
      const onNode = (node: RabbitMqNode) => {
        const url = new URL(env.vhost.managementUrl);
        url.host = new URL(node.managementUrl()).host;
        return url.toString();
      };
      const ordered = [stopped, ...cluster.nodes.filter((node) => node !== stopped)];
      await env.startOperator({
        broker: brokerSettings(
          {},
          {
            RABBITMQ_URL: env.vhost.amqpUrl,
            RABBITMQ_MANAGEMENT_URL: ordered.map(onNode).join(','),
          },
        ),
      });
    });

    afterAll(async () => {
      if (stopped && !(await stopped.isRunning()))
        await stopped.start(log, 'restart after the stop');
      await env?.dispose();
    });

    it('calls go to a live node; Degraded names the stopped node while the cluster is short, Ready after', async () => {
      await apply('before');
      await statusOf(
        ['before'],
        (r) => condition(r, 'Ready')?.status === 'True',
        'the first route Ready on the full cluster',
      );
      await withBrokerFault(async () => {
        await stopped.stop(log);
        try {
          // A change while the node is down: the operator reconciles through the others.
          await apply('during');
          const short = await statusOf(
            ['before', 'during'],
            (r) =>
              condition(r, 'Ready')?.status === 'True' &&
              condition(r, 'Degraded')?.reason === 'BrokerNodeDown',
            'both routes Ready, and Degraded naming the stopped node',
          );
          for (const r of short) {
            expect(condition(r, 'Degraded')).toMatchObject({
              status: 'True',
              message: `RabbitMQ node ${stopped.name} down: the cluster is short, its other nodes serve the route`,
            });
          }
        } finally {
          await stopped.start(log, 'restart after the stop');
        }
      });
      await statusOf(
        ['before', 'during'],
        (r) =>
          condition(r, 'Ready')?.status === 'True' && condition(r, 'Degraded')?.status === 'False',
        'Ready and no longer Degraded with the node back',
      );
    });
  },
);
