/**
 * Faults of a three-node cluster (the matrix's cluster leg, `WARREN_RABBITMQ_NODES=3`; skipped
 * on a single node): the node leading the consumer's quorum queue is SIGKILLed while a service
 * publishes through its outbox and consumes; every event must have its effect exactly once and
 * nothing may be dead-lettered. The service is connected to the first node, which stays up (the
 * queue is declared through the second so its leader starts there): suites running beside this
 * one use the first node too.
 */
import {
  eventually,
  loadInfraConfig,
  managementRequest,
  RabbitMqServer,
  withBrokerFault,
} from '@warren/testing';
import { connect } from 'amqplib';
import { declareTopology, testTopology } from './support/topology';
import {
  commitEvent,
  effectCounts,
  orderPayload,
  recordingMessaging,
  suiteServers,
  testLogger,
  type SuiteServers,
} from './support/suite';

const amqpUrls = (process.env.RABBITMQ_URLS ?? '').split(',').filter(Boolean);
const clustered = amqpUrls.length >= 3;

/** The vhost URL of node `index`: the suite's URL with that node's host and port. */
function onNode(vhostUrl: string, index: number): string {
  const url = new URL(vhostUrl);
  const node = new URL(amqpUrls[index]!);
  url.host = node.host;
  return url.toString();
}

(clustered ? describe : describe.skip)('three-node cluster faults (cluster only)', () => {
  jest.setTimeout(240_000);
  let servers: SuiteServers;
  const cluster = new RabbitMqServer(loadInfraConfig());
  const log = (line: string) => testLogger.info(line);

  beforeAll(async () => {
    servers = await suiteServers('cluster_faults');
  });

  afterAll(async () => {
    // Every node up again for the suites after this one.
    for (const node of cluster.nodes)
      if (!(await node.isRunning())) await node.start(log, 'restart after the fault');
    await servers?.dispose();
  });

  it('the queue leader SIGKILLed under load: every event has its effect once, no dead letter', async () => {
    // Never while another suite has a node down (two down: no quorum anywhere).
    await withBrokerFault(async () => {
      const topology = testTopology('cluster', { vhost: servers.vhost.vhost });
      // Declared through the second node: a quorum queue's leader starts on the declaring node
      // (client-local), so the first node, which the suites running beside this one use, stays up.
      await declareTopology(onNode(servers.vhost.amqpUrl, 1), topology);
      const queue = topology.consumes[0]!.queue;
      const info = await managementRequest<{ leader?: string; node?: string; members?: string[] }>(
        servers.vhost.managementUrl,
        'GET',
        `/api/queues/${encodeURIComponent(servers.vhost.vhost)}/${encodeURIComponent(queue)}`,
      );
      const leaderName = info.leader ?? info.node;
      expect(info.members).toHaveLength(3);
      const leader = cluster.nodes.find((node) => node.name === leaderName)!;
      expect(leader).toBeDefined();
      expect(leaderName).not.toBe(cluster.nodes[0]!.name);
      const survivor = 0;

      const messaging = recordingMessaging(
        servers,
        'cluster',
        topology,
        onNode(servers.vhost.amqpUrl, survivor),
      );
      await messaging.start();
      const effects = () => effectCounts(servers.pool);
      try {
        const total = 600;
        let killedAt = 0;
        for (let i = 1; i <= total; i++) {
          await commitEvent(servers.pool, messaging.outbox, orderPayload(`o-${i}`), {
            aggregateKey: `o-${i % 11}`,
          });
          if (i === 200) {
            killedAt = Date.now();
            await leader.kill();
          }
        }
        await eventually(
          'every event handled after the leader died',
          async () => ((await effects()).total >= total ? true : undefined),
          120_000,
        );
        log(`all handled ${(Date.now() - killedAt) / 1000} s after the kill`);
        await new Promise((r) => setTimeout(r, 1_500)); // a redelivery would be handled by now
        expect(await effects()).toEqual({ total, distinct: total });
        expect((await messaging.backlog()).size).toBe(0);
        const admin = await connect(onNode(servers.vhost.amqpUrl, survivor));
        try {
          const channel = await admin.createChannel();
          expect((await channel.checkQueue(`${queue}.dlq`)).messageCount).toBe(0);
        } finally {
          await admin.close();
        }
      } finally {
        await messaging.stop();
      }
      // The killed node comes back and the queue has three members again.
      await leader.start(log, 'restart after SIGKILL');
      await eventually(
        'the restarted node back in the queue',
        async () => {
          const after = await managementRequest<{ online?: string[] }>(
            servers.vhost.managementUrl,
            'GET',
            `/api/queues/${encodeURIComponent(servers.vhost.vhost)}/${encodeURIComponent(queue)}`,
          );
          return after.online?.length === 3 ? true : undefined;
        },
        60_000,
      );
    });
  });
});
