import { connect } from 'amqplib';
import { TOPOLOGY_API_VERSION, type ServiceTopology } from '@warren/contracts';

/**
 * Test-only: a topology document for one service that publishes and consumes its own events
 * (so one process shows the whole path), with a retry plan like the engine compiles.
 */
export function testTopology(
  service: string,
  options: {
    maxAttempts?: number;
    delaysMs?: number[];
    nonRetryableErrors?: string[];
    prefetch?: number;
    vhost?: string;
  } = {},
): ServiceTopology {
  const maxAttempts = options.maxAttempts ?? 3;
  const delaysMs =
    options.delaysMs ?? Array.from({ length: maxAttempts - 1 }, (_, i) => 50 * (i + 1));
  const route = `default/${service}-orders`;
  const queue = `${service}.orders`;
  const exchange = `${service}.events`;
  const eventTypes = ['order.created', 'order.confirmed', 'user.created'];
  return {
    apiVersion: TOPOLOGY_API_VERSION,
    kind: 'ServiceTopology',
    service,
    vhost: options.vhost ?? '/',
    publishes: eventTypes.map((eventType) => ({
      eventType,
      exchange,
      exchangeType: 'topic',
      routingKey: eventType,
      routes: [route],
    })),
    consumes: [
      {
        route,
        queue,
        queueType: 'quorum',
        prefetch: options.prefetch ?? 50,
        source: { service, exchange, exchangeType: 'topic' },
        eventTypes,
        retry: {
          policy: 'default/three-strikes',
          strategy: 'ttl-queues',
          maxAttempts,
          delaysMs,
          nonRetryableErrors: options.nonRetryableErrors ?? ['ValidationError'],
          exchange: maxAttempts > 1 ? `${queue}.retry` : '',
          levels: [...new Set(delaysMs)].map((delayMs) => ({
            delayMs,
            queue: `${queue}.retry.${delayMs}ms`,
            routingKey: `${delayMs}ms`,
          })),
        },
        deadLetter: { exchange: `${queue}.dlx`, queue: `${queue}.dlq` },
      },
    ],
  };
}

/**
 * Test-only stand-in for the operator: declares exactly what a topology document says (the
 * messaging module itself never declares anything).
 */
export async function declareTopology(amqpUrl: string, topology: ServiceTopology): Promise<void> {
  const connection = await connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    for (const target of topology.publishes)
      await channel.assertExchange(target.exchange, target.exchangeType, { durable: true });
    for (const consumer of topology.consumes) {
      await channel.assertExchange(consumer.source.exchange, consumer.source.exchangeType, {
        durable: true,
      });
      const dl = consumer.deadLetter;
      if (dl) {
        // Fanout, as the engine declares it: every dead letter of the queue reaches its DLQ.
        await channel.assertExchange(dl.exchange, 'fanout', { durable: true });
        await channel.assertQueue(dl.queue, {
          durable: true,
          arguments: { 'x-queue-type': 'quorum' },
        });
        await channel.bindQueue(dl.queue, dl.exchange, '');
      }
      await channel.assertQueue(consumer.queue, {
        durable: true,
        arguments: {
          'x-queue-type': consumer.queueType,
          ...(dl ? { 'x-dead-letter-exchange': dl.exchange } : {}),
        },
      });
      for (const pattern of consumer.eventTypes)
        await channel.bindQueue(consumer.queue, consumer.source.exchange, pattern);
      if (consumer.retry.exchange) {
        await channel.assertExchange(consumer.retry.exchange, 'direct', { durable: true });
        for (const level of consumer.retry.levels) {
          await channel.assertQueue(level.queue, {
            durable: true,
            arguments: {
              'x-queue-type': 'classic',
              'x-message-ttl': level.delayMs,
              'x-dead-letter-exchange': '',
              'x-dead-letter-routing-key': consumer.queue,
            },
          });
          await channel.bindQueue(level.queue, consumer.retry.exchange, level.routingKey);
        }
      }
    }
    await channel.close();
  } finally {
    await connection.close();
  }
}
