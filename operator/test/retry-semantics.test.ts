/**
 * The retry and dead-letter protocol of shared/contracts/src/topology.ts, with real messages on
 * the topology `warren apply` declares. The consumer below follows the protocol by hand (the
 * messaging module implements it for the services) and runs as the service's own broker user,
 * so the permissions Warren grants are proven sufficient too.
 */
import { connect } from 'amqplib';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import type { ConsumerQueue, ServiceTopology } from '@warren/contracts';
import { WARREN_HEADERS as H } from '@warren/contracts';
import type { TestVhost } from '@warren/testing';
import { createTestVhost, eventually } from '@warren/testing';
import { retryPolicy, route } from './resources';
import { cliEnv, drainQueue, serviceAmqpUrl, warren, writeResources } from './broker-helpers';

const DELAYS = [300, 600];
const TOLERANCE_MS = 250;

interface Delivery {
  id: string;
  attempt: number;
  at: number;
}

/** A handler that always fails with the error kind named in the message, and the protocol around it. */
async function failingConsumer(
  connection: ChannelModel,
  consumer: ConsumerQueue,
  deliveries: Delivery[],
): Promise<void> {
  const channel = await connection.createConfirmChannel();
  await channel.prefetch(consumer.prefetch);
  const { retry, deadLetter } = consumer;
  await channel.consume(consumer.queue, (message: ConsumeMessage | null) => {
    if (!message) return;
    const headers = { ...(message.properties.headers ?? {}) } as Record<string, unknown>;
    const attempt = Number(headers[H.attempt] ?? 1);
    const { id, failWith } = JSON.parse(message.content.toString()) as {
      id: string;
      failWith: string;
    };
    deliveries.push({ id, attempt, at: Date.now() });
    const now = new Date().toISOString();
    const failure = {
      [H.error]: `${failWith}: the handler failed`,
      [H.errorKind]: failWith,
      // A retried message arrives from the default exchange: the original is kept from the first failure.
      [H.originalExchange]: headers[H.originalExchange] ?? message.fields.exchange,
      [H.originalRoutingKey]: headers[H.originalRoutingKey] ?? message.fields.routingKey,
      [H.originalQueue]: consumer.queue,
      [H.firstFailureAt]: headers[H.firstFailureAt] ?? now,
      [H.lastFailureAt]: now,
    };
    const retryable = !retry.nonRetryableErrors.includes(failWith);
    if (retryable && attempt < retry.maxAttempts) {
      const level = retry.levels.find((l) => l.delayMs === retry.delaysMs[attempt - 1])!;
      channel.publish(retry.exchange, level.routingKey, message.content, {
        ...message.properties,
        headers: { ...headers, ...failure, [H.attempt]: attempt + 1 },
      });
    } else {
      channel.publish(
        deadLetter!.exchange,
        String(failure[H.originalRoutingKey]),
        message.content,
        {
          ...message.properties,
          headers: {
            ...headers,
            ...failure,
            [H.attempt]: attempt,
            [H.reason]: retryable ? 'retries-exhausted' : 'non-retryable',
          },
        },
      );
    }
    // Acknowledge only once the broker has the retry or dead letter.
    channel.waitForConfirms().then(() => channel.ack(message));
  });
}

describe('retry and dead-letter semantics on the applied topology', () => {
  let vhost: TestVhost;
  let connections: ChannelModel[] = [];
  let notification: ConsumerQueue;
  const deliveries: Delivery[] = [];

  beforeAll(async () => {
    vhost = await createTestVhost('engine_retry');
    const env = cliEnv(vhost);
    const dir = await writeResources([
      retryPolicy('fast-three-strikes', {
        maxAttempts: 3,
        backoff: { type: 'exponential', initialDelay: '300ms', multiplier: 2, maxDelay: '10s' },
        nonRetryableErrors: ['ValidationError'],
      }),
      route('welcome', { retryPolicyRef: { name: 'fast-three-strikes' } }),
      // Another service bound to the same event: it must see each event once, never the retries.
      route('audit', { consumer: { service: 'audit-service' } }),
    ]);
    const applied = await warren(['apply', '-f', dir], env);
    expect(applied.code).toBe(0);
    const topology = await warren(
      ['topology', '-f', dir, '--service', 'notification-service'],
      env,
    );
    notification = (JSON.parse(topology.out) as ServiceTopology).consumes[0]!;
    expect(notification.retry.delaysMs).toEqual(DELAYS);

    const consumerConnection = await connect(
      serviceAmqpUrl(vhost, `warren-notification-service@${vhost.vhost}`, 'notification-secret'),
    );
    connections.push(consumerConnection);
    await failingConsumer(consumerConnection, notification, deliveries);
  });

  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
    connections = [];
    await vhost.dispose();
  });

  async function publishAsUserService(body: object): Promise<void> {
    const connection = await connect(
      serviceAmqpUrl(vhost, `warren-user-service@${vhost.vhost}`, 'user-secret'),
    );
    try {
      const channel = await connection.createConfirmChannel();
      channel.publish('user.events', 'user.created', Buffer.from(JSON.stringify(body)), {
        persistent: true,
        messageId: (body as { id: string }).id,
      });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
  }

  async function deadLetters() {
    const admin = await connect(vhost.amqpUrl);
    connections.push(admin);
    return drainQueue(admin, notification.deadLetter!.queue);
  }

  it('delivers a failing message exactly maxAttempts times, spaced by the policy delays, then dead-letters it with the reasons', async () => {
    await publishAsUserService({ id: 'transient-1', failWith: 'TimeoutError' });
    const attempts = await eventually('three deliveries', async () => {
      const mine = deliveries.filter((d) => d.id === 'transient-1');
      return mine.length >= 3 ? mine : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, DELAYS[1]! + TOLERANCE_MS)); // no fourth delivery comes
    const mine = deliveries.filter((d) => d.id === 'transient-1');
    expect(mine.map((d) => d.attempt)).toEqual([1, 2, 3]);
    const gaps = [attempts[1]!.at - attempts[0]!.at, attempts[2]!.at - attempts[1]!.at];
    gaps.forEach((gap, index) => {
      expect(gap).toBeGreaterThanOrEqual(DELAYS[index]! - 20);
      expect(gap).toBeLessThanOrEqual(DELAYS[index]! + TOLERANCE_MS);
    });

    const [dead, ...more] = await deadLetters();
    expect(more).toEqual([]);
    const headers = dead!.properties.headers!;
    expect(headers).toMatchObject({
      [H.reason]: 'retries-exhausted',
      [H.attempt]: 3,
      [H.errorKind]: 'TimeoutError',
      [H.error]: 'TimeoutError: the handler failed',
      [H.originalExchange]: 'user.events',
      [H.originalRoutingKey]: 'user.created',
      [H.originalQueue]: notification.queue,
    });
    expect(Date.parse(String(headers[H.lastFailureAt]))).toBeGreaterThan(
      Date.parse(String(headers[H.firstFailureAt])),
    );
    expect(JSON.parse(dead!.content.toString())).toEqual({
      id: 'transient-1',
      failWith: 'TimeoutError',
    });
  });

  it('never delivers a retried message to another service queue bound to the same event', async () => {
    const admin = await connect(vhost.amqpUrl);
    connections.push(admin);
    const channel = await admin.createChannel();
    const audit = await channel.get('audit-service.audit', { noAck: true });
    expect(audit && JSON.parse(audit.content.toString())).toEqual({
      id: 'transient-1',
      failWith: 'TimeoutError',
    });
    expect((await channel.checkQueue('audit-service.audit')).messageCount).toBe(0);
  });

  it('dead-letters a non-retryable error at once', async () => {
    await publishAsUserService({ id: 'invalid-1', failWith: 'ValidationError' });
    const [dead] = await eventually('the dead letter', async () => {
      const found = await deadLetters();
      return found.length > 0 ? found : undefined;
    });
    expect(deliveries.filter((d) => d.id === 'invalid-1').map((d) => d.attempt)).toEqual([1]);
    expect(dead!.properties.headers).toMatchObject({
      [H.reason]: 'non-retryable',
      [H.attempt]: 1,
      [H.errorKind]: 'ValidationError',
    });
  });
});
