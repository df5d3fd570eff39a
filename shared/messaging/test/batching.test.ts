import { connect, type ChannelModel } from 'amqplib';
import type { PoolClient } from 'pg';
import {
  createEvent,
  WARREN_HEADERS,
  type EventEnvelope,
  type ServiceTopology,
} from '@warren/contracts';
import {
  HandlerRegistry,
  InfrastructureError,
  WarrenMessaging,
  eventProperties,
  pgTransactions,
  type TransactionRunner,
} from '../src';
import { declareTopology, testTopology } from './support/topology';
import { orderPayload, suiteServers, testLogger, type SuiteServers } from './support/suite';
import { eventually } from '@warren/testing';

/**
 * Shared inbox transactions against real RabbitMQ and PostgreSQL. One transaction at a time, and
 * a first message whose handler waits at a gate: everything published meanwhile piles up and is
 * handled as one batch when the gate opens.
 */
describe('consumer batching', () => {
  let servers: SuiteServers;
  let topology: ServiceTopology;
  let admin: ChannelModel;
  let messaging: WarrenMessaging | undefined;

  /** Per order id: the transaction (numbered in start order) of every handler call, and its attempt. */
  const calls = new Map<string, { tx: number; attempt: number }[]>();
  const behaviour = new Map<string, (attempt: number) => void>();
  let openGate!: () => void;
  let gates = 0;

  async function start() {
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const base = pgTransactions(servers.pool);
    const txOf = new Map<PoolClient, number>();
    let transactions = 0;
    const counted: TransactionRunner<PoolClient> = {
      executor: base.executor,
      transaction: (work) =>
        base.transaction((tx) => {
          txOf.set(tx, ++transactions);
          return work(tx);
        }),
    };
    const handlers = new HandlerRegistry<PoolClient>().on('order.created', async (event, ctx) => {
      const orderId = event.payload.orderId;
      calls.set(orderId, [
        ...(calls.get(orderId) ?? []),
        { tx: txOf.get(ctx.tx)!, attempt: ctx.attempt },
      ]);
      if (orderId.startsWith('gate')) await gate;
      await ctx.tx.query('INSERT INTO effects (event_id, note) VALUES ($1, $2)', [
        event.id,
        orderId,
      ]);
      behaviour.get(orderId)?.(ctx.attempt);
    });
    messaging = new WarrenMessaging<PoolClient>({
      service: topology.service,
      topology,
      amqpUrl: servers.vhost.amqpUrl,
      databaseUrl: servers.database.url,
      transactions: counted,
      handlers,
      logger: testLogger,
      batching: { maxMessages: 50, concurrency: 1 },
    });
    await messaging.start();
  }

  async function publish(events: EventEnvelope[]) {
    const channel = await admin.createConfirmChannel();
    for (const event of events) {
      channel.publish(
        topology.publishes[0].exchange,
        'order.created',
        Buffer.from(JSON.stringify(event)),
        eventProperties(event),
      );
    }
    await channel.waitForConfirms();
    await channel.close();
  }

  const order = (orderId: string) =>
    createEvent('order.created', orderPayload(orderId), {
      source: 'batch',
      correlationId: `c-${orderId}`,
    });

  /** Publishes the gate, then `events` while the gate holds the only transaction slot, then opens it. */
  async function publishBehindGate(events: EventEnvelope[]) {
    const gate = `gate-${++gates}`;
    await publish([order(gate)]);
    await eventually('the gate', async () => (calls.has(gate) ? true : undefined));
    await publish(events);
    // Every message delivered (none ready in the queue) and waiting for the slot.
    await eventually('the deliveries', async () => {
      const channel = await admin.createChannel();
      const { messageCount } = await channel.checkQueue(topology.consumes[0].queue);
      await channel.close();
      return messageCount === 0 ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 200));
    openGate();
  }

  async function effects(): Promise<Map<string, number>> {
    const { rows } = await servers.pool.query<{ note: string; n: number }>(
      'SELECT note, count(*)::int AS n FROM effects GROUP BY note',
    );
    return new Map(rows.map((r) => [r.note, r.n]));
  }

  async function handled(events: EventEnvelope[]): Promise<boolean> {
    const counts = await effects();
    return events.every((e) => counts.has((e as EventEnvelope<'order.created'>).payload.orderId));
  }

  beforeAll(async () => {
    servers = await suiteServers('messaging_batching');
    topology = testTopology('batch', {
      maxAttempts: 3,
      delaysMs: [50, 100],
      prefetch: 100,
      vhost: servers.vhost.vhost,
    });
    admin = await connect(servers.vhost.amqpUrl);
    await declareTopology(servers.vhost.amqpUrl, topology);
  }, 120_000);

  beforeEach(async () => {
    calls.clear();
    behaviour.clear();
    await servers.pool.query('TRUNCATE effects, warren_inbox');
  });

  afterEach(async () => {
    await messaging?.stop();
    messaging = undefined;
  });

  afterAll(async () => {
    await admin?.close();
    await servers?.dispose();
  });

  it('a failing handler in a shared transaction affects only its own message', async () => {
    behaviour.set('poison', () => {
      throw new Error('boom');
    });
    let blips = 0;
    behaviour.set('db-blip', () => {
      if (blips++ === 0) throw new InfrastructureError('database unavailable');
    });
    await start();
    const ids = Array.from({ length: 20 }, (_, i) => `ok-${i}`);
    const events = [
      ...ids.slice(0, 8),
      'poison',
      ...ids.slice(8, 14),
      'db-blip',
      ...ids.slice(14),
    ].map(order);
    await publishBehindGate(events);

    const dead = await eventually('the dead letter', async () => {
      const channel = await admin.createChannel();
      const message = await channel.get(topology.consumes[0].deadLetter!.queue, { noAck: true });
      await channel.close();
      return message || undefined;
    });
    await eventually('every other effect', async () =>
      (await handled([...ids, 'db-blip'].map(order))) ? true : undefined,
    );
    const counts = await effects();
    // The poison message's first attempt shared a transaction with the others...
    const [first] = calls.get('poison')!;
    expect(calls.get('ok-0')!.some((c) => c.tx === first.tx)).toBe(true);
    // ...its handler ran once per attempt, then it was dead-lettered with no effect.
    expect(calls.get('poison')!.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(dead.properties.headers![WARREN_HEADERS.reason]).toBe('retries-exhausted');
    expect(counts.has('poison')).toBe(false);
    // The infrastructure failure used no attempt; every other message has exactly one effect.
    expect(calls.get('db-blip')!.every((c) => c.attempt === 1)).toBe(true);
    for (const id of [...ids, 'db-blip']) expect(counts.get(id)).toBe(1);
  });

  it('a message redelivered after its batch committed has one effect', async () => {
    await start();
    const first = Array.from({ length: 10 }, (_, i) => order(`once-${i}`));
    await publishBehindGate(first);
    await eventually('the first batch', async () => ((await handled(first)) ? true : undefined));
    expect(new Set(first.map((e) => calls.get(e.payload.orderId)![0].tx)).size).toBe(1);

    // The same events again (as after a lost ack), mixed with new ones, in one batch again.
    const fresh = Array.from({ length: 5 }, (_, i) => order(`fresh-${i}`));
    await publishBehindGate([...first.slice(0, 5), ...fresh, ...first.slice(5)]);
    await eventually('the fresh events', async () => ((await handled(fresh)) ? true : undefined));
    await eventually('the duplicates', async () => {
      const metric = await messaging!.metrics.duplicates.get();
      return metric.values.reduce((sum, v) => sum + v.value, 0) === first.length ? true : undefined;
    });
    const counts = await effects();
    for (const [id, n] of counts) expect([id, n]).toEqual([id, 1]);
    const channel = await admin.createChannel();
    expect((await channel.checkQueue(topology.consumes[0].queue)).messageCount).toBe(0);
    await channel.close();
  });
});
