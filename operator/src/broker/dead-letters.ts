/**
 * Reading and redriving a route's dead-letter queue over AMQP. Nothing is lost on any path: a
 * listed message goes back to the queue when the channel closes, and a redriven one is acked in
 * the dead-letter queue only after the broker confirmed its copy in the consumer queue.
 */
import { connect } from 'amqplib';
import type { ChannelModel, ConfirmChannel, GetMessage } from 'amqplib';
import type { DeadLetterReason } from '@warren/contracts';
import { describeDeadLetter, redriveHeaders, type DeadLetterSummary } from '../engine/dead-letters';
import { vhostAmqpUrl } from './queue-probe';

/** Messages published between two waits for confirms. */
const CONFIRM_BATCH = 100;

export interface DeadLetterQueueRef {
  /** AMQP URL with credentials; its path is replaced by `vhost`. */
  amqpUrl: string;
  vhost: string;
  deadLetterQueue: string;
}

async function open(ref: DeadLetterQueueRef): Promise<ChannelModel> {
  const connection = await connect(vhostAmqpUrl(ref.amqpUrl, ref.vhost));
  // Channel and connection errors also reject the call in progress: that is where they surface.
  connection.on('error', () => undefined);
  return connection;
}

async function confirmChannel(connection: ChannelModel): Promise<ConfirmChannel> {
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => undefined);
  return channel;
}

/** Runs `work` on a confirm channel of a connection to the ref's vhost, closed afterwards. */
async function withChannel<T>(
  ref: DeadLetterQueueRef,
  work: (channel: ConfirmChannel, connection: ChannelModel) => Promise<T>,
): Promise<T> {
  const connection = await open(ref);
  try {
    return await work(await confirmChannel(connection), connection);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** The queue's message count, or an error naming the queue when it does not exist. */
async function depthOf(channel: ConfirmChannel, queue: string, vhost: string): Promise<number> {
  try {
    return (await channel.checkQueue(queue)).messageCount;
  } catch (error) {
    if ((error as { code?: number }).code === 404) {
      throw new Error(
        `queue "${queue}" does not exist in vhost "${vhost}": apply the topology first`,
        { cause: error },
      );
    }
    throw error;
  }
}

export interface DeadLetterListing {
  depth: number;
  messages: (DeadLetterSummary & { body: string })[];
}

/**
 * Up to `limit` messages from the head of the dead-letter queue, left in place: they are fetched
 * unacknowledged and return when the channel closes (RabbitMQ counts that as a delivery).
 */
export async function listDeadLetters(
  ref: DeadLetterQueueRef,
  limit: number,
): Promise<DeadLetterListing> {
  return withChannel(ref, async (channel) => {
    const depth = await depthOf(channel, ref.deadLetterQueue, ref.vhost);
    const messages: DeadLetterListing['messages'] = [];
    while (messages.length < Math.min(limit, depth)) {
      const message = await channel.get(ref.deadLetterQueue, { noAck: false });
      if (!message) break;
      messages.push({ ...describeDeadLetter(message), body: message.content.toString('utf8') });
    }
    return { depth, messages };
  });
}

export interface RedriveOptions {
  /** The queue that failed the messages: they go back to it alone, by the default exchange. */
  queue: string;
  /** At most this many messages. */
  limit: number;
  /** Only messages dead-lettered for these reasons (default: all). */
  reasons?: DeadLetterReason[];
  onProgress?: (redriven: number) => void;
  now?: () => Date;
}

export interface RedriveResult {
  redriven: number;
  /** Looked at but not redriven (another reason): still in the dead-letter queue. */
  skipped: number;
  /** Left in the dead-letter queue at the end. */
  remaining: number;
}

/**
 * Sends dead letters back to the queue that failed them, with a fresh set of attempts. Only the
 * messages present at the start are considered, so one that fails again and returns to the
 * dead-letter queue during the run is not redriven twice.
 */
export async function redriveDeadLetters(
  ref: DeadLetterQueueRef,
  options: RedriveOptions,
): Promise<RedriveResult> {
  return withChannel(ref, async (channel, connection) => {
    // A message the broker cannot route (the queue vanished meanwhile) comes back: stop, keep it.
    let unroutable: string | undefined;
    channel.on(
      'return',
      (returned: { properties: { messageId?: unknown }; fields: { replyText?: string } }) => {
        unroutable ??= `message ${String(returned.properties.messageId)} could not be routed to "${options.queue}" (${returned.fields.replyText})`;
      },
    );
    const depth = await depthOf(channel, ref.deadLetterQueue, ref.vhost);
    await depthOf(channel, options.queue, ref.vhost);

    let redriven = 0;
    let skipped = 0;
    let batch: GetMessage[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await channel.waitForConfirms();
      if (unroutable) throw new Error(unroutable);
      for (const message of batch) channel.ack(message);
      redriven += batch.length;
      batch = [];
      options.onProgress?.(redriven);
    };
    for (let seen = 0; seen < depth && redriven + batch.length < options.limit; seen += 1) {
      const message = await channel.get(ref.deadLetterQueue, { noAck: false });
      if (!message) break;
      const { reason } = describeDeadLetter(message);
      if (options.reasons && !options.reasons.includes(reason as DeadLetterReason)) {
        // Held unacknowledged so the next get moves on; back in the queue at the end.
        skipped += 1;
        continue;
      }
      // user-id is checked against the publishing connection's user: the original one's would fail.
      const { userId: _userId, ...properties } = message.properties;
      channel.publish('', options.queue, message.content, {
        ...properties,
        headers: redriveHeaders(message.properties.headers, options.now?.() ?? new Date()),
        mandatory: true,
        persistent: true,
      });
      batch.push(message);
      if (batch.length >= CONFIRM_BATCH) await flush();
    }
    await flush();
    // The skipped messages return to the dead-letter queue.
    await channel.close();
    const remaining = await depthOf(
      await confirmChannel(connection),
      ref.deadLetterQueue,
      ref.vhost,
    );
    return { redriven, skipped, remaining };
  });
}
