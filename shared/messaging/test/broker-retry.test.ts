/**
 * RetryPolicy `strategy: broker` end to end on a real broker: `warren apply` declares the route
 * with RabbitMQ's delayed retry (no retry queues), and the messaging module's consumer, running
 * as the service's own broker user, retries exactly maxAttempts times with the declared linear
 * delays, then dead-letters with Warren's failure headers. An infrastructure failure does not use
 * an attempt. On a broker older than 4.3, `warren apply` refuses the route, naming the version.
 */
import { connect } from 'amqplib';
import type { PoolClient } from 'pg';
import { WARREN_HEADERS as H, type ServiceTopology } from '@warren/contracts';
import { brokerVersion, eventually, managementRequest } from '@warren/testing';
import { HandlerRegistry, InfrastructureError, WarrenMessaging } from '../src';
import { brokerProfile } from '../../../operator/src/engine/broker-version';
import { retryPolicy, route } from '../../../operator/test/resources';
import {
  cliEnv,
  serviceAmqpUrl,
  warren,
  writeResources,
} from '../../../operator/test/broker-helpers';
import {
  commitEvent,
  orderPayload,
  suiteServers,
  testLogger,
  type SuiteServers,
} from './support/suite';

/** Linear: 300 ms, 600 ms, then capped at 700 ms. */
const DELAYS = [300, 600, 700];
const MAX_ATTEMPTS = DELAYS.length + 1;
/** How late a retry may come on a busy machine (the delay itself is the lower bound). */
const TOLERANCE_MS = 250;

let servers: SuiteServers;
let dir: string;
let version: string;
const running: WarrenMessaging<PoolClient>[] = [];

beforeAll(async () => {
  version = await brokerVersion();
  servers = await suiteServers('messaging_broker_retry');
  dir = await writeResources([
    retryPolicy('broker-linear', {
      maxAttempts: MAX_ATTEMPTS,
      strategy: 'broker',
      backoff: { type: 'linear', initialDelay: '300ms', maxDelay: '700ms' },
      nonRetryableErrors: ['ValidationError'],
    }),
    route('orders', {
      exchange: { name: 'order.events' },
      source: { service: 'order-service' },
      events: ['order.created'],
      retryPolicyRef: { name: 'broker-linear' },
    }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all(running.splice(0).map((m) => m.stop().catch(() => undefined)));
  await servers?.dispose();
});

const onDelayedRetryBroker = () => brokerProfile(version).delayedRetry;

it('RabbitMQ < 4.3 only: warren apply refuses strategy broker, naming the broker version', async () => {
  if (onDelayedRetryBroker()) return;
  const applied = await warren(['apply', '-f', dir], cliEnv(servers.vhost));
  expect(applied.code).not.toBe(0);
  expect(applied.out + applied.err).toContain(
    `RetryPolicy default/broker-linear has spec.strategy broker, which needs RabbitMQ 4.3+ (delayed retry): the broker is ${version}`,
  );
});

describe('RabbitMQ 4.3+ only: strategy broker on the applied topology', () => {
  let topology: ServiceTopology;
  let orders: WarrenMessaging<PoolClient>;
  /** Per order id: when each delivery reached the handler, and its attempt. */
  const deliveries = new Map<string, { attempt: number; at: number }[]>();

  beforeAll(async () => {
    if (!onDelayedRetryBroker()) return;
    const env = cliEnv(servers.vhost);
    const applied = await warren(['apply', '-f', dir], env);
    expect(applied.code).toBe(0);
    const shown = await warren(['topology', '-f', dir, '--service', 'notification-service'], env);
    topology = JSON.parse(shown.out) as ServiceTopology;

    let dbDownFailures = 0;
    const handlers = new HandlerRegistry<PoolClient>().on('order.created', async (event, ctx) => {
      const id = event.payload.orderId;
      deliveries.set(id, [...(deliveries.get(id) ?? []), { attempt: ctx.attempt, at: Date.now() }]);
      if (id === 'db-down' && dbDownFailures < 2) {
        dbDownFailures += 1;
        throw new InfrastructureError('database unreachable');
      }
      if (id !== 'fine') throw new Error('payment provider said no');
    });
    const consumer = new WarrenMessaging<PoolClient>({
      service: 'notification-service',
      topology,
      amqpUrl: serviceAmqpUrl(
        servers.vhost,
        `warren-notification-service@${servers.vhost.vhost}`,
        'notification-secret',
      ),
      databaseUrl: servers.database.url,
      handlers,
      logger: testLogger,
    });
    running.push(consumer);
    await consumer.start();
    const shownOrders = await warren(['topology', '-f', dir, '--service', 'order-service'], env);
    orders = new WarrenMessaging<PoolClient>({
      service: 'order-service',
      topology: JSON.parse(shownOrders.out) as ServiceTopology,
      amqpUrl: serviceAmqpUrl(
        servers.vhost,
        `warren-order-service@${servers.vhost.vhost}`,
        'order-secret',
      ),
      databaseUrl: servers.database.url,
      logger: testLogger,
    });
    running.push(orders);
    await orders.start();
  }, 60_000);

  /** Commits an order.created as order-service does (outbox, then its relay publishes). */
  const publish = (orderId: string) =>
    commitEvent(servers.pool, orders.outbox, orderPayload(orderId));

  async function deadLetter(orderId: string) {
    const admin = await connect(servers.vhost.amqpUrl);
    try {
      const channel = await admin.createChannel();
      return await eventually(`the dead letter of ${orderId}`, async () => {
        const message = await channel.get(topology.consumes[0]!.deadLetter!.queue, {
          noAck: true,
        });
        return message || undefined;
      });
    } finally {
      await admin.close();
    }
  }

  it('declares no retry queue or exchange: the consumer queue delays the message itself', async () => {
    if (!onDelayedRetryBroker()) return;
    const [queue] = topology.consumes;
    expect(queue!.retry).toMatchObject({ strategy: 'broker', delaysMs: DELAYS, levels: [] });
    const names = (
      await managementRequest<{ name: string; arguments: Record<string, unknown> }[]>(
        servers.vhost.managementUrl,
        'GET',
        `/api/queues/${encodeURIComponent(servers.vhost.vhost)}`,
      )
    ).map((q) => q.name);
    expect(names.sort()).toEqual([queue!.deadLetter!.queue, queue!.queue].sort());
  });

  it('delivers a failing message exactly maxAttempts times, spaced by the linear delays, then dead-letters it with the failure headers', async () => {
    if (!onDelayedRetryBroker()) return;
    await publish('poison');
    const dead = await deadLetter('poison');
    const seen = deliveries.get('poison')!;
    expect(seen.map((d) => d.attempt)).toEqual([1, 2, 3, 4]);
    DELAYS.forEach((delay, i) => {
      const gap = seen[i + 1]!.at - seen[i]!.at;
      expect(gap).toBeGreaterThanOrEqual(delay - 20);
      expect(gap).toBeLessThanOrEqual(delay + TOLERANCE_MS);
    });
    const queue = topology.consumes[0]!.queue;
    expect(dead.fields.routingKey).toBe(queue);
    expect(dead.properties.headers).toMatchObject({
      [H.reason]: 'retries-exhausted',
      [H.attempt]: MAX_ATTEMPTS,
      [H.error]: 'payment provider said no',
      [H.errorKind]: 'Error',
      [H.originalExchange]: 'order.events',
      [H.originalRoutingKey]: 'order.created',
      [H.originalQueue]: queue,
    });
    // The earlier attempts wrote nothing on the message: no first failure time is invented.
    expect(dead.properties.headers).not.toHaveProperty(H.firstFailureAt);
    expect(Date.parse(String(dead.properties.headers![H.lastFailureAt]))).toBeGreaterThanOrEqual(
      seen[3]!.at - 1000,
    );
    // No fifth delivery follows.
    await new Promise((resolve) => setTimeout(resolve, DELAYS.at(-1)! + TOLERANCE_MS));
    expect(deliveries.get('poison')).toHaveLength(MAX_ATTEMPTS);
  });

  it('an infrastructure failure uses no attempt: the message comes back, then gets all its attempts', async () => {
    if (!onDelayedRetryBroker()) return;
    await publish('db-down');
    const dead = await deadLetter('db-down');
    expect(deliveries.get('db-down')!.map((d) => d.attempt)).toEqual([1, 1, 1, 2, 3, 4]);
    expect(dead.properties.headers).toMatchObject({
      [H.reason]: 'retries-exhausted',
      [H.attempt]: MAX_ATTEMPTS,
    });
  });
});
