import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import {
  ContractError,
  isEventType,
  parseEvent,
  type AnyEvent,
  type ConsumerQueue,
  type ServiceTopology,
} from '@warren/contracts';
import { Backoff, sleep } from '../backoff';
import type { ConnectionListener, ConnectionManager } from '../connection';
import { runWithCorrelation } from '../correlation';
import type { TransactionRunner } from '../database';
import { errorKind, errorMessage } from '../errors';
import type { Logger } from '../logger';
import type { MessagingMetrics } from '../metrics';
import type { Outbox } from '../outbox/outbox';
import type { ConfirmPublisher } from '../publisher';
import {
  attemptOf,
  decideFailure,
  failureHeaders,
  NoHandlerError,
  type FailureDecision,
} from './failure';
import type { HandlerContext, HandlerRegistry } from './handlers';

const INBOX_INSERT = `INSERT INTO warren_inbox (consumer, message_id, event_type) VALUES ($1, $2, $3)
ON CONFLICT (consumer, message_id) DO NOTHING`;

export interface EventConsumerOptions<Tx> {
  connections: ConnectionManager;
  topology: ServiceTopology;
  handlers: HandlerRegistry<Tx>;
  transactions: TransactionRunner<Tx>;
  /** Sends retries and dead letters (with confirms) before the original is acked. */
  publisher: ConfirmPublisher;
  /** Lets handlers write follow-up events; absent when the service publishes nothing. */
  outbox?: Outbox;
  metrics: MessagingMetrics;
  logger: Logger;
  /** How long stop() waits for in-flight handlers. */
  shutdownTimeoutMs?: number;
}

interface Subscription {
  channel: Channel;
  consumerTag: string;
}

/**
 * Consumes the service's queues. A message is acked only after its handler's transaction, which
 * also records it in the inbox, has committed; a redelivery finds the inbox row and has no
 * second effect. Failures follow the queue's RetryPlan (retry queue, then dead-letter queue);
 * infrastructure failures put the message back after a backoff without using an attempt.
 */
export class EventConsumer<Tx> implements ConnectionListener {
  private subscriptions: Subscription[] = [];
  private inFlight = 0;
  private idle: (() => void) | undefined;
  private stopped = false;
  private readonly infraBackoff = new Backoff({ initialMs: 500, maxMs: 15_000 });
  private readonly stopping = new AbortController();

  constructor(private readonly options: EventConsumerOptions<Tx>) {}

  /** Subscribes now (resolves once subscribed) and again after every reconnect. */
  start(): Promise<void> {
    return this.options.connections.addListener(this);
  }

  get ready(): boolean {
    return !this.stopped && this.subscriptions.length === this.options.topology.consumes.length;
  }

  async onConnected(connection: ChannelModel): Promise<void> {
    if (this.stopped) return;
    const subscriptions: Subscription[] = [];
    for (const queue of this.options.topology.consumes) {
      const channel = await connection.createChannel();
      channel.on('error', (error: Error) =>
        this.options.logger.warn(
          { err: error.message, queue: queue.queue },
          'consumer channel error',
        ),
      );
      await channel.prefetch(queue.prefetch);
      const { consumerTag } = await channel.consume(queue.queue, (message) => {
        if (message) void this.handle(channel, queue, message);
        // The broker cancelled the consumer (queue deleted): not ready until subscribed again.
        else if (!this.stopped)
          this.options.connections.restart(`consumer of ${queue.queue} cancelled by the broker`);
      });
      subscriptions.push({ channel, consumerTag });
    }
    this.subscriptions = subscriptions;
  }

  onDisconnected(): void {
    this.subscriptions = [];
  }

  /** Stops taking messages, lets in-flight handlers finish (bounded), closes the channels. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    const subscriptions = this.subscriptions;
    this.subscriptions = [];
    await Promise.all(
      subscriptions.map((s) => s.channel.cancel(s.consumerTag).catch(() => undefined)),
    );
    if (this.inFlight > 0) {
      const timeout = new AbortController();
      const drained = new Promise<void>((resolve) => (this.idle = resolve)).then(() =>
        timeout.abort(),
      );
      await Promise.race([
        drained,
        sleep(this.options.shutdownTimeoutMs ?? 30_000, timeout.signal),
      ]);
      timeout.abort();
    }
    await Promise.all(subscriptions.map((s) => s.channel.close().catch(() => undefined)));
  }

  private async handle(
    channel: Channel,
    queue: ConsumerQueue,
    message: ConsumeMessage,
  ): Promise<void> {
    this.inFlight += 1;
    try {
      await this.process(channel, queue, message);
    } catch (error) {
      // Only reached when even the failure path failed (broker gone): the message is redelivered.
      this.options.logger.error(
        { err: errorMessage(error), queue: queue.queue },
        'message left unacknowledged',
      );
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) this.idle?.();
    }
  }

  private async process(
    channel: Channel,
    queue: ConsumerQueue,
    message: ConsumeMessage,
  ): Promise<void> {
    const { metrics, logger } = this.options;
    const attempt = attemptOf(message.properties.headers);
    let event: AnyEvent;
    try {
      event = parseEvent(parseJson(message.content));
    } catch (error) {
      // A metric label from an untrusted message only when it names a known event type.
      const type = String(message.properties.type ?? '');
      const typeLabel = isEventType(type) ? type : 'unknown';
      logger.warn(
        { queue: queue.queue, err: errorMessage(error), messageId: message.properties.messageId },
        'message breaks its contract',
      );
      await this.fail(channel, queue, message, typeLabel, attempt, error);
      return;
    }
    await runWithCorrelation(
      { correlationId: event.correlationId, causationId: event.id },
      async () => {
        const labels = { event_type: event.type, queue: queue.queue };
        const stopTimer = metrics.handlerDuration.startTimer(labels);
        try {
          const outcome = await this.runHandler(queue, event, attempt);
          stopTimer({ outcome });
          ack(channel, message);
          this.infraBackoff.reset();
          if (outcome === 'duplicate') metrics.duplicates.inc(labels);
          else metrics.consumed.inc(labels);
        } catch (error) {
          stopTimer({ outcome: 'failed' });
          await this.fail(channel, queue, message, event.type, attempt, error);
        }
      },
    );
  }

  private async runHandler(
    queue: ConsumerQueue,
    event: AnyEvent,
    attempt: number,
  ): Promise<'handled' | 'duplicate'> {
    const { transactions, handlers, outbox, logger } = this.options;
    const handler = handlers.get(event.type);
    if (!handler)
      throw new NoHandlerError(
        `no handler for "${event.type}" in service "${this.options.topology.service}"`,
      );
    return transactions.transaction(async (tx) => {
      const inserted = await transactions
        .executor(tx)
        .execute(INBOX_INSERT, [queue.queue, event.id, event.type]);
      if (inserted === 0) return 'duplicate';
      let childLogger: Logger | undefined;
      const context: HandlerContext<Tx> = {
        tx,
        queue: queue.queue,
        attempt,
        // Built on first use: most handlers never log, and a child logger per message is not free.
        get logger() {
          return (childLogger ??= logger.child({
            eventType: event.type,
            eventId: event.id,
            queue: queue.queue,
            attempt,
          }));
        },
        publish: (type, payload, options) => {
          if (!outbox)
            throw new Error(`service "${this.options.topology.service}" publishes no events`);
          return outbox.enqueue(tx as never, type, payload, options);
        },
      };
      await handler(event, context);
      return 'handled';
    });
  }

  private async fail(
    channel: Channel,
    queue: ConsumerQueue,
    message: ConsumeMessage,
    eventType: string,
    attempt: number,
    error: unknown,
  ): Promise<void> {
    const { metrics, logger, publisher } = this.options;
    const labels = { event_type: eventType, queue: queue.queue };
    const decision: FailureDecision = decideFailure(queue, attempt, error);
    if (decision.action === 'requeue') {
      const delay = this.infraBackoff.next();
      logger.warn(
        { err: errorMessage(error), queue: queue.queue, delayMs: delay },
        'infrastructure failure, message returned to the queue',
      );
      await sleep(delay, this.stopping.signal);
      nack(channel, message);
      return;
    }
    metrics.failed.inc({ ...labels, error_kind: errorKind(error) });
    const facts = {
      queue: queue.queue,
      exchange: message.fields.exchange,
      routingKey: message.fields.routingKey,
      attempt,
      error,
      at: new Date(),
    };
    if (decision.action === 'retry') {
      await forward(
        publisher,
        message,
        decision,
        failureHeaders(message.properties.headers, facts, { attempt: decision.nextAttempt }),
      );
      metrics.retried.inc(labels);
      logger.warn(
        { err: errorMessage(error), queue: queue.queue, attempt, delayMs: decision.delayMs },
        'handler failed, retry scheduled',
      );
    } else if (decision.action === 'dead-letter') {
      await forward(
        publisher,
        message,
        decision,
        failureHeaders(message.properties.headers, facts, { reason: decision.reason }),
      );
      metrics.deadLettered.inc({ ...labels, reason: decision.reason });
      logger.error(
        { err: errorMessage(error), queue: queue.queue, attempt, reason: decision.reason },
        'message dead-lettered',
      );
    } else {
      logger.error(
        { err: errorMessage(error), queue: queue.queue, attempt, reason: decision.reason },
        'message dropped (route has no dead-letter queue)',
      );
    }
    ack(channel, message);
  }
}

/** Sends the message on (to a retry queue or the dead-letter queue) as it came, with new headers; waits for the confirm. */
function forward(
  publisher: ConfirmPublisher,
  message: ConsumeMessage,
  to: { exchange: string; routingKey: string },
  headers: Record<string, unknown>,
): Promise<void> {
  const p = message.properties;
  return publisher.publishRaw({
    exchange: to.exchange,
    routingKey: to.routingKey,
    content: message.content,
    options: {
      contentType: p.contentType,
      contentEncoding: p.contentEncoding,
      messageId: p.messageId,
      type: p.type,
      correlationId: p.correlationId,
      appId: p.appId,
      timestamp: p.timestamp,
      persistent: true,
      headers,
    },
  });
}

function parseJson(content: Buffer): unknown {
  try {
    return JSON.parse(content.toString('utf8'));
  } catch (error) {
    throw new ContractError([{ path: '(body)', message: `not JSON: ${errorMessage(error)}` }]);
  }
}

/** Acks on a channel that may have closed meanwhile: the broker then redelivers, and the inbox dedups. */
function ack(channel: Channel, message: ConsumeMessage): void {
  try {
    channel.ack(message);
  } catch {
    /* channel closed: redelivered later */
  }
}

function nack(channel: Channel, message: ConsumeMessage): void {
  try {
    channel.nack(message, false, true);
  } catch {
    /* channel closed: redelivered later */
  }
}
