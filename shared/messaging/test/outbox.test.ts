import { connect, type ChannelModel } from 'amqplib';
import { Pool } from 'pg';
import type { ServiceTopology } from '@warren/contracts';
import { ConfirmPublisher, ConnectionManager, MessagingMetrics, Outbox, OutboxRelay } from '../src';
import { declareTopology, testTopology } from './support/topology';
import { orderPayload, suiteServers, testLogger, type SuiteServers } from './support/suite';
import { eventually } from '@warren/testing';

/** One relay process: its own broker connection, publisher and database pool. */
async function startRelay(servers: SuiteServers, topology: ServiceTopology) {
  const connections = new ConnectionManager({
    url: servers.vhost.amqpUrl,
    name: 'relay-test',
    logger: testLogger,
  });
  const metrics = new MessagingMetrics();
  const publisher = new ConfirmPublisher(connections, topology, metrics);
  await connections.start();
  const pool = new Pool({ connectionString: servers.database.url, max: 2 });
  const relay = new OutboxRelay(pool, publisher, metrics, testLogger, {
    batchSize: 50,
    safetyPollMs: 2_000,
  });
  relay.start();
  return {
    metrics,
    stop: async () => {
      await relay.stop();
      await connections.close();
      await pool.end();
    },
  };
}

describe('outbox relay against real RabbitMQ and PostgreSQL', () => {
  let servers: SuiteServers;
  let topology: ServiceTopology;
  let admin: ChannelModel;

  beforeAll(async () => {
    servers = await suiteServers('messaging_outbox');
    topology = testTopology('relay', { vhost: servers.vhost.vhost });
    await declareTopology(servers.vhost.amqpUrl, topology);
    admin = await connect(servers.vhost.amqpUrl);
  }, 120_000);

  afterAll(async () => {
    await admin?.close();
    await servers?.dispose();
  });

  it('two relays on one outbox publish each row exactly once, each aggregate in order', async () => {
    const relays = await Promise.all([
      startRelay(servers, topology),
      startRelay(servers, topology),
    ]);
    const outbox = new Outbox(topology);
    const aggregates = 40;
    const perAggregate = 25;
    // Writers run while both relays are publishing; each transaction writes a few aggregates.
    for (let seq = 1; seq <= perAggregate; seq++) {
      const client = await servers.pool.connect();
      await client.query('BEGIN');
      for (let a = 0; a < aggregates; a++) {
        await outbox.enqueue(client, 'order.created', orderPayload(`agg-${a}`, seq), {
          aggregateKey: `agg-${a}`,
        });
      }
      await client.query('COMMIT');
      client.release();
    }
    const total = aggregates * perAggregate;
    const channel = await admin.createChannel();
    await eventually('every row to be published', async () => {
      const { messageCount } = await channel.checkQueue(topology.consumes[0].queue);
      return messageCount >= total ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 500)); // a second publish of any row would show up now
    const seen = new Set<string>();
    const lastSeq = new Map<string, number>();
    let count = 0;
    for (;;) {
      const message = await channel.get(topology.consumes[0].queue, { noAck: true });
      if (!message) break;
      count += 1;
      const event = JSON.parse(message.content.toString());
      seen.add(event.id);
      const seq = event.payload.items[0].quantity as number;
      expect(seq).toBeGreaterThan(lastSeq.get(event.payload.orderId) ?? 0);
      lastSeq.set(event.payload.orderId, seq);
    }
    expect(count).toBe(total);
    expect(seen.size).toBe(total);
    const confirmed = await Promise.all(
      relays.map(async (r) =>
        (await r.metrics.confirmed.get()).values.reduce((sum, v) => sum + v.value, 0),
      ),
    );
    expect(confirmed[0] + confirmed[1]).toBe(total);
    // Every row was claimed by one batch; rows committed together (40 a transaction) share batches.
    const batches = await Promise.all(
      relays.map(async (r) => {
        const { values } = await r.metrics.relayBatchRows.get();
        const of = (name: string) => values.find((v) => v.metricName === name)?.value ?? 0;
        return {
          rows: of('warren_outbox_relay_batch_rows_sum'),
          count: of('warren_outbox_relay_batch_rows_count'),
        };
      }),
    );
    expect(batches[0].rows + batches[1].rows).toBe(total);
    expect(batches[0].count + batches[1].count).toBeLessThan(total / 2);
    const { rows } = await servers.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM warren_outbox WHERE sent_at IS NULL',
    );
    expect(rows[0].n).toBe(0);
    await channel.close();
    await Promise.all(relays.map((r) => r.stop()));
  });
});
