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
import { errorKind, errorMessage, isInfrastructureError } from '../errors';
import type { Logger } from '../logger';
import type { MessagingMetrics } from '../metrics';
import type { Outbox } from '../outbox/outbox';
import type { ConfirmPublisher } from '../publisher';
import { Batcher } from '../batcher';
import {
  attemptOf,
  decideFailure,
  failureHeaders,
  NoHandlerError,
  type FailureDecision,
} from './failure';
import type { HandlerContext, HandlerRegistry } from './handlers';
import { ConsumerMetrics } from './consumer-metrics';

const INBOX_INSERT_ROWS = 'INSERT INTO warren_inbox (consumer, message_id, event_type) VALUES';
const INBOX_ON_CONFLICT = 'ON CONFLICT (consumer, message_id) DO NOTHING';

/** The handler of the batch's message at `index` failed; the transaction was rolled back. */
class HandlerFailure extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(errorMessage(cause));
  }
}

export interface ConsumerBatching {
  /** Most messages handled in one transaction; 1 gives every message a transaction of its own. */
  maxMessages?: number;
  /** Transactions running at once per queue; messages delivered meanwhile form the next batch. */
  concurrency?: number;
}

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
  batching?: ConsumerBatching;
}

interface Subscription {
  channel: Channel;
  consumerTag: string;
}

/** A valid message waiting for its transaction; `settle` hands back its ack or failure path. */
interface Delivery {
  channel: Channel;
  queue: ConsumerQueue;
  message: ConsumeMessage;
  event: AnyEvent;
  attempt: number;
  settle: (done: Promise<void>) => void;
}

type Result = { outcome: 'handled' | 'duplicate' } | { error: unknown };

/**
 * Consumes the service's queues. A message is acked only after the transaction that records it
 * in the inbox and holds its handler's writes has committed; a redelivery finds the inbox row
 * and has no second effect. Under load, messages share transactions (see Batcher): a failure in
 * a shared transaction hands the failing message to the failure path and reruns the others in
 * transactions of their own. Failures follow the queue's RetryPlan (retry queue, then
 * dead-letter queue); infrastructure failures put the message back after a backoff without
 * using an attempt.
 */
export class EventConsumer<Tx> implements ConnectionListener {
  private subscriptions: Subscription[] = [];
  private inFlight = 0;
  private idle: (() => void) | undefined;
  private stopped = false;
  private readonly infraBackoff = new Backoff({ initialMs: 500, maxMs: 15_000 });
  private readonly stopping = new AbortController();
  private readonly batchers: Map<string, Batcher<Delivery>>;
  private readonly metrics: ConsumerMetrics;

  constructor(private readonly options: EventConsumerOptions<Tx>) {
    const { maxMessages = 50, concurrency = 4 } = options.batching ?? {};
    this.batchers = new Map(
      options.topology.consumes.map((queue) => [
        queue.queue,
        new Batcher<Delivery>((batch) => this.runBatch(batch), maxMessages, concurrency),
      ]),
    );
    this.metrics = new ConsumerMetrics(options.metrics);
  }

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
      const attempt = attemptOf(queue, message.properties.headers);
      let event: AnyEvent;
      try {
        event = parseEvent(parseJson(message.content));
      } catch (error) {
        // A metric label from an untrusted message only when it names a known event type.
        const type = String(message.properties.type ?? '');
        const typeLabel = isEventType(type) ? type : 'unknown';
        this.options.logger.warn(
          { queue: queue.queue, err: errorMessage(error), messageId: message.properties.messageId },
          'message breaks its contract',
        );
        await this.fail(channel, queue, message, typeLabel, attempt, error);
        return;
      }
      if (!this.options.handlers.get(event.type)) {
        const error = new NoHandlerError(
          `no handler for "${event.type}" in service "${this.options.topology.service}"`,
        );
        await withCorrelation(event, () =>
          this.fail(channel, queue, message, event.type, attempt, error),
        );
        return;
      }
      await new Promise<void>((settle) =>
        this.batchers.get(queue.queue)!.add({ channel, queue, message, event, attempt, settle }),
      );
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

  /** Runs a batch's transactions, then acks or fails each message (outside the batch's slot). */
  private async runBatch(batch: Delivery[]): Promise<void> {
    const started = performance.now();
    this.options.metrics.batchMessages.observe({ queue: batch[0]!.queue.queue }, batch.length);
    const results = await this.transact(batch);
    batch.forEach((delivery, i) =>
      delivery.settle(
        withCorrelation(delivery.event, () => this.finish(delivery, results[i], started)),
      ),
    );
  }

  /** One result per delivery, in order; never throws. */
  private async transact(batch: Delivery[]): Promise<Result[]> {
    const results: (Result | undefined)[] = new Array(batch.length);
    if (batch.length > 1) {
      try {
        await this.options.transactions.transaction((tx) => this.handleTogether(tx, batch));
        return batch.map(() => ({ outcome: 'handled' }));
      } catch (error) {
        if (error instanceof HandlerFailure) results[error.index] = { error: error.cause };
        // The database is away: every message goes back to the queue (after a backoff).
        else if (isInfrastructureError(error)) return batch.map(() => ({ error }));
        // Otherwise (a redelivery in the batch, a failed commit) each message is tried alone.
      }
    }
    for (let i = 0; i < batch.length; i++) {
      results[i] ??= await this.handleAlone(batch[i]).then(
        (outcome) => ({ outcome }),
        (error: unknown) => ({ error }),
      );
    }
    return results as Result[];
  }

  /**
   * The batch's inbox rows in one statement, then each handler in delivery order. Fewer rows
   * inserted than messages means a redelivery (or one message twice): roll back and go alone.
   */
  private async handleTogether(tx: Tx, batch: Delivery[]): Promise<void> {
    const params: unknown[] = [batch[0].queue.queue];
    const rows = batch.map(({ event }) => {
      params.push(event.id, event.type);
      return `($1, $${params.length - 1}, $${params.length})`;
    });
    const inserted = await this.options.transactions
      .executor(tx)
      .execute(`${INBOX_INSERT_ROWS} ${rows.join(', ')} ${INBOX_ON_CONFLICT}`, params);
    if (inserted < batch.length) throw new Error('a message of the batch was handled before');
    for (let i = 0; i < batch.length; i++) {
      const delivery = batch[i];
      try {
        await withCorrelation(delivery.event, () => this.runHandler(tx, delivery));
      } catch (error) {
        // An earlier handler that swallowed a failed statement is to blame, not this one.
        if (isAbortedTransaction(error)) throw error;
        throw new HandlerFailure(i, error);
      }
    }
  }

  private handleAlone(delivery: Delivery): Promise<'handled' | 'duplicate'> {
    const { transactions } = this.options;
    return withCorrelation(delivery.event, () =>
      transactions.transaction(async (tx) => {
        const { queue, event } = delivery;
        const inserted = await transactions
          .executor(tx)
          .execute(`${INBOX_INSERT_ROWS} ($1, $2, $3) ${INBOX_ON_CONFLICT}`, [
            queue.queue,
            event.id,
            event.type,
          ]);
        if (inserted === 0) return 'duplicate';
        await this.runHandler(tx, delivery);
        return 'handled';
      }),
    );
  }

  private runHandler(tx: Tx, { queue, event, attempt }: Delivery): Promise<void> {
    const { handlers, outbox, logger, topology } = this.options;
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
        if (!outbox) throw new Error(`service "${topology.service}" publishes no events`);
        return outbox.enqueue(tx as never, type, payload, options);
      },
    };
    return handlers.get(event.type)!(event, context);
  }

  private async finish(delivery: Delivery, result: Result, started: number): Promise<void> {
    const { channel, queue, message, event, attempt } = delivery;
    const seconds = (performance.now() - started) / 1000;
    if ('outcome' in result) {
      this.metrics.observe(event.type, queue.queue, result.outcome, seconds);
      ack(channel, message);
      this.infraBackoff.reset();
    } else {
      this.metrics.observe(event.type, queue.queue, 'failed', seconds);
      await this.fail(channel, queue, message, event.type, attempt, result.error);
    }
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
      earlierFailuresUnrecorded: queue.retry.strategy === 'broker',
    };
    if (decision.action === 'delay') {
      // The queue delays the rejected message itself (and counts the attempt): no ack.
      reject(channel, message);
      metrics.retried.inc(labels);
      logger.warn(
        { err: errorMessage(error), queue: queue.queue, attempt, delayMs: decision.delayMs },
        'handler failed, retry scheduled by the broker',
      );
      return;
    }
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

function withCorrelation<T>(event: AnyEvent, fn: () => T): T {
  return runWithCorrelation({ correlationId: event.correlationId, causationId: event.id }, fn);
}

/** PostgreSQL refuses statements after a failed one in the same transaction (25P02). */
function isAbortedTransaction(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === '25P02';
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

/** Back to the queue as a failed delivery: a broker-strategy queue counts and delays it. */
function reject(channel: Channel, message: ConsumeMessage): void {
  try {
    channel.reject(message, true);
  } catch {
    /* channel closed: redelivered later */
  }
}

/** Back to the queue at once, not counted as a failed delivery (x-delivery-count unchanged). */
function nack(channel: Channel, message: ConsumeMessage): void {
  try {
    channel.nack(message, false, true);
  } catch {
    /* channel closed: redelivered later */
  }
}
