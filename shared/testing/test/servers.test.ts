/**
 * Each server the project relies on is real: a confirmed publish and a manual-ack consume
 * through RabbitMQ, a row through PostgreSQL, and Prometheus answering for the broker's metrics.
 */
import * as amqp from 'amqplib';
import { Client } from 'pg';
import { createTestDatabase, createTestVhost, type TestDatabase, type TestVhost } from '../src';

describe('RabbitMQ', () => {
  let vhost: TestVhost;
  beforeAll(async () => {
    vhost = await createTestVhost('servers');
  });
  afterAll(() => vhost.dispose());

  it('confirms a published message and delivers it to a manual-ack consumer', async () => {
    const connection = await amqp.connect(vhost.amqpUrl);
    try {
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue('probe', {
        durable: true,
        arguments: { 'x-queue-type': 'quorum' },
      });
      const body = Buffer.from(JSON.stringify({ hello: 'warren' }));
      await new Promise<void>((resolve, reject) =>
        channel.sendToQueue('probe', body, { persistent: true }, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
      const received = await new Promise<amqp.ConsumeMessage>((resolve) => {
        void channel.consume('probe', (message) => message && resolve(message), { noAck: false });
      });
      channel.ack(received);
      expect(JSON.parse(received.content.toString())).toEqual({ hello: 'warren' });
      await channel.close();
      const check = await connection.createChannel();
      expect((await check.checkQueue('probe')).messageCount).toBe(0);
    } finally {
      await connection.close();
    }
  });
});

describe('PostgreSQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('servers');
  });
  afterAll(() => database.dispose());

  it('round-trips a row in a fresh database of its own', async () => {
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows: tables } = await client.query(
        `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`,
      );
      expect(tables[0].n).toBe(0);
      await client.query(
        'CREATE TABLE probe (id serial PRIMARY KEY, note text NOT NULL, at timestamptz DEFAULT now())',
      );
      await client.query('INSERT INTO probe (note) VALUES ($1)', ['hello']);
      const { rows } = await client.query('SELECT note, version() AS version FROM probe');
      expect(rows).toEqual([{ note: 'hello', version: expect.stringMatching(/^PostgreSQL 1\d/) }]);
    } finally {
      await client.end();
    }
  });
});

describe('Prometheus', () => {
  const prometheusUrl = process.env.PROMETHEUS_URL;
  const maybe = prometheusUrl ? it : it.skip;

  maybe('answers a query for the broker it scrapes', async () => {
    // The first scrape happens within one interval (5 s) of start-up.
    const deadline = Date.now() + 45_000;
    let result: { metric: Record<string, string> }[] = [];
    while (Date.now() < deadline) {
      const response = await fetch(`${prometheusUrl}/api/v1/query?query=rabbitmq_identity_info`);
      const body = (await response.json()) as { status: string; data: { result: typeof result } };
      expect(body.status).toBe('success');
      result = body.data.result;
      if (result.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(result.length).toBeGreaterThan(0);
    expect(result[0].metric.rabbitmq_node).toMatch(/@/);
  });
});
