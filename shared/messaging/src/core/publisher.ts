import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import {
  WARREN_HEADERS,
  type EventEnvelope,
  type PublishTarget,
  type ServiceTopology,
} from '@warren/contracts';
import type { ConnectionListener, ConnectionManager } from './connection';
import { InfrastructureError } from './errors';
import type { MessagingMetrics } from './metrics';

export interface RawMessage {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
}

/** AMQP properties of an event: the envelope's ids are mirrored so tools can read them without parsing. */
export function eventProperties(
  event: EventEnvelope,
  headers: Record<string, unknown> = {},
): Options.Publish {
  return {
    persistent: true,
    contentType: 'application/json',
    messageId: event.id,
    type: event.type,
    correlationId: event.correlationId,
    appId: event.source,
    timestamp: Math.floor(Date.parse(event.occurredAt) / 1000),
    headers: { [WARREN_HEADERS.correlationId]: event.correlationId, ...headers },
  };
}

/**
 * Publishes with publisher confirms: each publish resolves only once the broker has taken
 * responsibility for the message (persisted / replicated), and rejects on nack or channel loss.
 * Publishes may overlap; the broker's flow control (a full write buffer) is honoured.
 */
/** Messages written past a full socket buffer before publishes wait for it to drain (~0.5 MiB at 1 KiB). */
const OVERFLOW_LIMIT = 512;

export class ConfirmPublisher implements ConnectionListener {
  private channel: ConfirmChannel | undefined;
  private drained: Promise<void> | undefined;
  /** Messages written since the socket's buffer filled (see publishRaw). */
  private overflow = 0;
  private readonly targets: Map<string, PublishTarget>;
  private readyWaiters: (() => void)[] = [];
  private readonly counters = new Map<
    string,
    { published: { inc(): void }; confirmed: { inc(): void } }
  >();

  constructor(
    connections: ConnectionManager,
    private readonly topology: ServiceTopology,
    private readonly metrics: MessagingMetrics,
  ) {
    this.targets = new Map(topology.publishes.map((t) => [t.eventType, t]));
    void connections.addListener(this);
  }

  get ready(): boolean {
    return this.channel !== undefined;
  }

  async onConnected(connection: ChannelModel): Promise<void> {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => {
      /* reported through the rejected confirms and the connection's close */
    });
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    this.channel = channel;
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves when a channel is (again) available: lets the relay end its backoff at once. */
  whenReady(): Promise<void> {
    if (this.channel) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  onDisconnected(): void {
    this.channel = undefined;
  }

  /** Where an event type goes, per the topology document; refuses types the service may not publish. */
  targetOf(eventType: string): PublishTarget {
    const target = this.targets.get(eventType);
    if (!target) {
      const allowed = [...this.targets.keys()].join(', ') || 'none';
      throw new Error(
        `service "${this.topology.service}" has no EventRoute publishing "${eventType}" (it may publish: ${allowed})`,
      );
    }
    return target;
  }

  /** Publishes one event to its exchange and waits for the broker's confirm. */
  publishEvent(event: EventEnvelope, headers: Record<string, unknown> = {}): Promise<void> {
    const target = this.targetOf(event.type);
    return this.publishEncoded(event, target, Buffer.from(JSON.stringify(event)), headers);
  }

  /** Same as publishEvent, for an envelope already serialised (the outbox keeps it as JSON). */
  publishEncoded(
    event: EventEnvelope,
    target: PublishTarget,
    content: Buffer,
    headers: Record<string, unknown> = {},
  ): Promise<void> {
    const counters = this.countersOf(event.type);
    counters.published.inc();
    return this.publishRaw({
      exchange: target.exchange,
      routingKey: target.routingKey,
      content,
      options: eventProperties(event, headers),
    }).then(() => counters.confirmed.inc());
  }

  /** Label-bound counters per event type: the hot path skips prom-client's label hashing. */
  private countersOf(eventType: string) {
    let counters = this.counters.get(eventType);
    if (!counters) {
      counters = {
        published: this.metrics.published.labels(eventType),
        confirmed: this.metrics.confirmed.labels(eventType),
      };
      this.counters.set(eventType, counters);
    }
    return counters;
  }

  /** Publishes a message as given (used for retries and dead letters) and waits for the confirm. */
  publishRaw(message: RawMessage): Promise<void> {
    // Flow control: once the socket's buffer is full, up to OVERFLOW_LIMIT more messages are
    // written, then publishes wait for it to drain. Waiting at once (the buffer holds ~16
    // messages of 1 KiB) left the socket idle between drains and cost a third of throughput.
    if (this.drained && this.overflow >= OVERFLOW_LIMIT)
      return this.drained.then(() => this.publishRaw(message));
    if (this.drained) this.overflow += 1;
    const channel = this.channel;
    if (!channel) return Promise.reject(new InfrastructureError('not connected to the broker'));
    return new Promise<void>((resolve, reject) => {
      const accepted = channel.publish(
        message.exchange,
        message.routingKey,
        message.content,
        message.options,
        (error) =>
          error
            ? reject(
                new InfrastructureError(
                  `broker did not confirm the publish to ${message.exchange}`,
                  { cause: error },
                ),
              )
            : resolve(),
      );
      if (!accepted && !this.drained) {
        this.drained = new Promise<void>((resume) => {
          const done = () => {
            this.drained = undefined;
            this.overflow = 0;
            channel.off('drain', done);
            channel.off('close', done);
            resume();
          };
          channel.on('drain', done);
          channel.on('close', done);
        });
      }
    });
  }
}
