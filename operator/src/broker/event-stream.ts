/**
 * The broker's own events over AMQP: a server-named, exclusive queue bound to
 * `amq.rabbitmq.event` (the rabbitmq_event_exchange plugin) for the given routing keys. It
 * reconnects with backoff when the connection drops; when the exchange does not exist (the
 * plugin is not enabled) it says so through `onState` and looks again now and then.
 */
import { connect } from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { vhostAmqpUrl } from './queue-probe';
import { backoffDelayMs } from '../util/backoff';

export const EVENT_EXCHANGE = 'amq.rabbitmq.event';

/** `subscribed`: events flow; `plugin-missing`: no event exchange; `disconnected`: retrying. */
export type EventStreamState = 'subscribed' | 'plugin-missing' | 'disconnected';

export interface EventStreamOptions {
  /** AMQP URL with the operator's credentials. */
  amqpUrl: string;
  /** The vhost holding the event exchange (the plugin's `event_exchange.vhost`, default `/`). */
  vhost: string;
  routingKeys: readonly string[];
  onEvent: (type: string, headers: Record<string, unknown>) => void;
  /** Each change of state, with the error behind it when there is one. */
  onState: (state: EventStreamState, error?: string) => void;
  /** Delay before reconnecting, doubled per failure up to 30 s; default 1 s. */
  retryMs?: number;
  /** Delay before looking for the exchange again when the plugin is missing; default 60 s. */
  pluginRetryMs?: number;
}

export class BrokerEventStream {
  private connection?: ChannelModel;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private failures = 0;

  constructor(private readonly options: EventStreamOptions) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let connection: ChannelModel | undefined;
    try {
      connection = await connect(vhostAmqpUrl(this.options.amqpUrl, this.options.vhost));
      if (this.stopped) return void (await connection.close().catch(() => undefined));
      connection.on('error', () => undefined);
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      if (!(await this.exchangeExists(connection))) {
        await connection.close().catch(() => undefined);
        this.options.onState('plugin-missing', `exchange ${EVENT_EXCHANGE} not found`);
        return this.retry(this.options.pluginRetryMs ?? 60_000);
      }
      await this.subscribe(channel);
      this.connection = connection;
      this.failures = 0;
      connection.on('close', () => {
        if (this.connection !== connection) return;
        this.connection = undefined;
        this.options.onState('disconnected', 'connection closed');
        this.retryWithBackoff();
      });
      this.options.onState('subscribed');
    } catch (error) {
      await connection?.close().catch(() => undefined);
      this.options.onState('disconnected', (error as Error).message);
      this.retryWithBackoff();
    }
  }

  /** A passive declare on a throwaway channel (a missing exchange closes it). */
  private async exchangeExists(connection: ChannelModel): Promise<boolean> {
    const probe = await connection.createChannel();
    probe.on('error', () => undefined);
    try {
      await probe.checkExchange(EVENT_EXCHANGE);
      await probe.close().catch(() => undefined);
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 404) return false;
      throw error;
    }
  }

  private async subscribe(channel: Channel): Promise<void> {
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    for (const key of this.options.routingKeys) await channel.bindQueue(queue, EVENT_EXCHANGE, key);
    await channel.consume(
      queue,
      (message: ConsumeMessage | null) => {
        if (!message) return;
        this.options.onEvent(message.fields.routingKey, message.properties.headers ?? {});
      },
      { noAck: true },
    );
  }

  private retryWithBackoff() {
    this.failures += 1;
    this.retry(backoffDelayMs(this.failures, this.options.retryMs ?? 1000, 30_000));
  }

  private retry(delayMs: number) {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), delayMs);
    this.timer.unref?.();
  }
}
