import { connect, type ChannelModel, type GetMessage } from 'amqplib';
import type { PoolClient } from 'pg';
import { createEvent, WARREN_HEADERS, type ServiceTopology } from '@warren/contracts';
import {
  HandlerRegistry,
  InfrastructureError,
  TopologyMissingError,
  WarrenMessaging,
  eventProperties,
  pgTransactions,
} from '../src';
import { declareTopology, testTopology } from './support/topology';
import {
  commitEvent,
  orderPayload,
  suiteServers,
  testLogger,
  type SuiteServers,
} from './support/suite';
import { eventually } from '@warren/testing';

describe('consumer against real RabbitMQ and PostgreSQL', () => {
  let servers: SuiteServers;
  let topology: ServiceTopology;
  let admin: ChannelModel;
  const running: WarrenMessaging[] = [];

  /** The handler's behaviour per order id; records every effect in the `effects` table. */
  const behaviour = new Map<string, (attempt: number) => void>();
  const attempts = new Map<string, number[]>();

  function start(
    extra: Partial<ConstructorParameters<typeof WarrenMessaging<PoolClient>>[0]> = {},
  ) {
    const handlers = new HandlerRegistry<PoolClient>().on('order.created', async (event, ctx) => {
      attempts.set(event.payload.orderId, [
        ...(attempts.get(event.payload.orderId) ?? []),
        ctx.attempt,
      ]);
      await ctx.tx.query('INSERT INTO effects (event_id, note) VALUES ($1, $2)', [
        event.id,
        event.payload.orderId,
      ]);
      behaviour.get(event.payload.orderId)?.(ctx.attempt);
    });
    const messaging = new WarrenMessaging<PoolClient>({
      service: topology.service,
      topology,
      amqpUrl: servers.vhost.amqpUrl,
      databaseUrl: servers.database.url,
      transactions: pgTransactions(servers.pool),
      handlers,
      logger: testLogger,
      ...extra,
    });
    running.push(messaging);
    return messaging;
  }

  async function publishRaw(content: Buffer | object, options = {}) {
    const channel = await admin.createConfirmChannel();
    const body = Buffer.isBuffer(content) ? content : Buffer.from(JSON.stringify(content));
    channel.publish(topology.publishes[0].exchange, 'order.created', body, {
      persistent: true,
      ...options,
    });
    await channel.waitForConfirms();
    await channel.close();
  }

  async function effectsOf(orderId: string): Promise<number> {
    const { rows } = await servers.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM effects WHERE note = $1',
      [orderId],
    );
    return rows[0].n;
  }

  async function dlqMessages(): Promise<GetMessage[]> {
    const channel = await admin.createChannel();
    const out: GetMessage[] = [];
    for (;;) {
      const message = await channel.get(topology.consumes[0].deadLetter!.queue, { noAck: true });
      if (!message) break;
      out.push(message);
    }
    await channel.close();
    return out;
  }

  beforeAll(async () => {
    servers = await suiteServers('messaging_consumer');
    topology = testTopology('svc', {
      maxAttempts: 3,
      delaysMs: [50, 100],
      vhost: servers.vhost.vhost,
    });
    admin = await connect(servers.vhost.amqpUrl);
    await declareTopology(servers.vhost.amqpUrl, topology);
  }, 120_000);

  afterEach(async () => {
    await Promise.all(running.splice(0).map((m) => m.stop()));
  });

  afterAll(async () => {
    await admin?.close();
    await servers?.dispose();
  });

  it('refuses to start before its topology exists, naming the missing queue and its route', async () => {
    const late = testTopology('late', { vhost: servers.vhost.vhost });
    const messaging = start({ service: 'late', topology: late });
    const failure = await messaging.start().catch((error: Error) => error);
    running.splice(running.indexOf(messaging), 1);
    expect(failure).toBeInstanceOf(TopologyMissingError);
    expect((failure as Error).message).toContain('queue "late.orders"');
    expect((failure as Error).message).toContain('EventRoute default/late-orders');
    expect((failure as Error).message).toContain('exchange "late.events"');
    // Nothing was declared by the module.
    const channel = await admin.createChannel();
    channel.on('error', () => undefined);
    await expect(channel.checkQueue('late.orders')).rejects.toThrow(/NOT_FOUND/);
    // Once the operator (here: the test's stand-in) has declared it, the same service starts.
    await declareTopology(servers.vhost.amqpUrl, late);
    const retried = start({ service: 'late', topology: late });
    await expect(retried.start()).resolves.toBeUndefined();
  });

  it('publishes through the outbox and handles each event once, in the handler transaction', async () => {
    const messaging = start();
    await messaging.start();
    expect(messaging.health()).toMatchObject({
      ready: true,
      broker: 'connected',
      consumers: 'subscribed',
    });
    await commitEvent(servers.pool, messaging.outbox, orderPayload('happy'), {
      aggregateKey: 'happy',
    });
    // A rolled-back transaction leaves no event behind.
    const client = await servers.pool.connect();
    try {
      await client.query('BEGIN');
      await messaging.outbox.enqueue(client, 'order.created', orderPayload('rolled-back'));
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    await eventually('the effect', async () =>
      (await effectsOf('happy')) === 1 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(await effectsOf('rolled-back')).toBe(0);
    expect(await messaging.backlog()).toMatchObject({ size: 0 });
  });

  it('gives a message delivered twice one effect', async () => {
    const messaging = start();
    await messaging.start();
    const event = createEvent('order.created', orderPayload('twice'), {
      source: 'svc',
      correlationId: 'c-twice',
    });
    await publishRaw(event, eventProperties(event));
    await publishRaw(event, eventProperties(event));
    await eventually('the duplicate', async () =>
      (await dupCount(messaging)) >= 1 ? true : undefined,
    );
    expect(await effectsOf('twice')).toBe(1);
  });

  it('retries a poison message exactly maxAttempts times, then dead-letters it with failure headers', async () => {
    behaviour.set('poison', () => {
      throw new Error('boom');
    });
    const messaging = start();
    await messaging.start();
    const event = createEvent('order.created', orderPayload('poison'), {
      source: 'svc',
      correlationId: 'c-poison',
    });
    await publishRaw(event, eventProperties(event));
    const [dead] = await eventually('the dead letter', async () => {
      const messages = await dlqMessages();
      return messages.length > 0 ? messages : undefined;
    });
    expect(attempts.get('poison')).toEqual([1, 2, 3]);
    expect(await effectsOf('poison')).toBe(0); // every attempt rolled back
    const headers = dead.properties.headers!;
    expect(headers[WARREN_HEADERS.reason]).toBe('retries-exhausted');
    expect(headers[WARREN_HEADERS.attempt]).toBe(3);
    expect(headers[WARREN_HEADERS.error]).toBe('boom');
    expect(headers[WARREN_HEADERS.errorKind]).toBe('Error');
    expect(headers[WARREN_HEADERS.originalExchange]).toBe('svc.events');
    expect(headers[WARREN_HEADERS.originalRoutingKey]).toBe('order.created');
    expect(headers[WARREN_HEADERS.originalQueue]).toBe('svc.orders');
    expect(headers[WARREN_HEADERS.correlationId]).toBe('c-poison');
    expect(dead.properties.messageId).toBe(event.id);
    expect(JSON.parse(dead.content.toString())).toEqual(event);
  });

  it('dead-letters a non-retryable error kind at once', async () => {
    behaviour.set('invalid-state', () => {
      throw Object.assign(new Error('order is in a state that can never accept this'), {
        name: 'ValidationError',
      });
    });
    const messaging = start();
    await messaging.start();
    const event = createEvent('order.created', orderPayload('invalid-state'), {
      source: 'svc',
      correlationId: 'c',
    });
    await publishRaw(event, eventProperties(event));
    const [dead] = await eventually('the dead letter', async () =>
      ((m) => (m.length ? m : undefined))(await dlqMessages()),
    );
    expect(attempts.get('invalid-state')).toEqual([1]);
    expect(dead.properties.headers![WARREN_HEADERS.reason]).toBe('non-retryable');
    expect(dead.properties.headers![WARREN_HEADERS.errorKind]).toBe('ValidationError');
  });

  it('dead-letters a contract-invalid message at once and keeps consuming', async () => {
    const messaging = start();
    await messaging.start();
    const bad = {
      ...createEvent('order.created', orderPayload('bad'), { source: 'svc', correlationId: 'c' }),
    };
    (bad.payload as { items: unknown[] }).items = [];
    await publishRaw(bad, { messageId: bad.id, type: bad.type });
    await publishRaw(Buffer.from('not json'), { type: 'order.created' });
    const good = createEvent('order.created', orderPayload('after-bad'), {
      source: 'svc',
      correlationId: 'c',
    });
    await publishRaw(good, eventProperties(good));
    const dead = await eventually('two dead letters', async () => {
      const messages = await dlqMessages();
      return messages.length >= 2 ? messages : undefined;
    });
    for (const message of dead) {
      expect(message.properties.headers![WARREN_HEADERS.reason]).toBe('contract-invalid');
      expect(message.properties.headers![WARREN_HEADERS.attempt]).toBe(1);
    }
    expect(dead[0].properties.headers![WARREN_HEADERS.error]).toContain('payload.items');
    await eventually('the next good message', async () =>
      (await effectsOf('after-bad')) === 1 ? true : undefined,
    );
    expect(attempts.has('bad')).toBe(false);
  });

  it('does not use up attempts on infrastructure errors', async () => {
    let failures = 0;
    behaviour.set('db-down', () => {
      if (failures++ < 2) throw new InfrastructureError('database unavailable');
    });
    const messaging = start();
    await messaging.start();
    const event = createEvent('order.created', orderPayload('db-down'), {
      source: 'svc',
      correlationId: 'c',
    });
    await publishRaw(event, eventProperties(event));
    await eventually('the effect', async () =>
      (await effectsOf('db-down')) === 1 ? true : undefined,
    );
    // Three deliveries, all on attempt 1: the retry queues were never used.
    expect(attempts.get('db-down')).toEqual([1, 1, 1]);
    expect(await dlqMessages()).toHaveLength(0);
  });

  it('loses readiness when its queue is deleted and resubscribes once the queue is declared again', async () => {
    const messaging = start();
    await messaging.start();
    const channel = await admin.createChannel();
    await channel.deleteQueue('svc.orders');
    await eventually('readiness to drop', async () =>
      messaging.health().ready ? undefined : true,
    );
    expect(messaging.health()).toMatchObject({ consumers: 'not subscribed' });
    await declareTopology(servers.vhost.amqpUrl, topology); // the operator repairing the drift
    await eventually(
      'readiness to return',
      async () => (messaging.health().ready ? true : undefined),
      30_000,
    );
    const event = createEvent('order.created', orderPayload('after-repair'), {
      source: 'svc',
      correlationId: 'c',
    });
    await publishRaw(event, eventProperties(event));
    await eventually('the effect', async () =>
      (await effectsOf('after-repair')) === 1 ? true : undefined,
    );
    await channel.close();
  });

  it('stops gracefully: in-flight handlers finish and are acked before the connection closes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    behaviour.set('slow', () => undefined);
    const messaging = start({
      handlers: new HandlerRegistry<PoolClient>().on('order.created', async (event, ctx) => {
        await gate;
        await ctx.tx.query('INSERT INTO effects (event_id, note) VALUES ($1, $2)', [
          event.id,
          event.payload.orderId,
        ]);
      }),
    });
    await messaging.start();
    const event = createEvent('order.created', orderPayload('slow'), {
      source: 'svc',
      correlationId: 'c',
    });
    await publishRaw(event, eventProperties(event));
    await new Promise((r) => setTimeout(r, 200));
    const stopped = messaging.stop();
    setTimeout(release, 200);
    await stopped;
    running.splice(running.indexOf(messaging), 1);
    expect(await effectsOf('slow')).toBe(1);
    const channel = await admin.createChannel();
    expect((await channel.checkQueue('svc.orders')).messageCount).toBe(0);
    await channel.close();
  });
});

async function dupCount(messaging: WarrenMessaging): Promise<number> {
  const metric = await messaging.metrics.duplicates.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}
