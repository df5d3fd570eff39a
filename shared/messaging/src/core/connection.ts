import { connect, type ChannelModel } from 'amqplib';
import { Backoff, sleep, type BackoffOptions } from './backoff';
import { errorMessage } from './errors';
import type { Logger } from './logger';

/** Something that needs channels on every new connection (publisher, consumers). */
export interface ConnectionListener {
  /** Called after each (re)connect; a failure drops the connection and triggers a reconnect. */
  onConnected(connection: ChannelModel): Promise<void>;
  /** Called when the connection is gone; channels opened on it are unusable. */
  onDisconnected(): void;
}

export interface ConnectionManagerOptions {
  url: string;
  /** Shown in the broker's connection list. */
  name: string;
  logger: Logger;
  backoff?: BackoffOptions;
  heartbeatSeconds?: number;
}

/**
 * One AMQP connection that comes back: on loss it reconnects with backoff and lets each
 * listener set up its channels again. `ready` says whether the broker is reachable right now.
 */
export class ConnectionManager {
  private connection: ChannelModel | undefined;
  private readonly listeners: ConnectionListener[] = [];
  private readonly backoff: Backoff;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private lastError: Error | undefined;

  constructor(private readonly options: ConnectionManagerOptions) {
    this.backoff = new Backoff({ initialMs: 200, maxMs: 15_000, ...options.backoff });
  }

  get ready(): boolean {
    return this.connection !== undefined;
  }

  get current(): ChannelModel | undefined {
    return this.connection;
  }

  get failure(): string | undefined {
    return this.connection ? undefined : this.lastError?.message;
  }

  /** Registers a listener; when connected, sets it up at once and resolves when that is done. */
  async addListener(listener: ConnectionListener): Promise<void> {
    this.listeners.push(listener);
    const connection = this.connection;
    if (connection) await listener.onConnected(connection);
  }

  /**
   * Connects once, failing fast when the broker refuses (bad credentials, no such vhost), then
   * keeps the connection alive in the background. `first` runs on the fresh connection before
   * any listener (the topology check); its failure is returned to the caller.
   */
  async start(first?: (connection: ChannelModel) => Promise<void>): Promise<void> {
    const connection = await this.open();
    const closed = closedPromise(connection);
    try {
      if (first) await first(connection);
      await this.attach(connection);
    } catch (error) {
      this.connection = undefined;
      await connection.close().catch(() => undefined);
      throw error;
    }
    this.loop = this.keepAlive(closed);
  }

  private async open(): Promise<ChannelModel> {
    const url = new URL(this.options.url);
    // Heartbeats notice a dead broker within seconds instead of a TCP timeout.
    if (!url.searchParams.has('heartbeat'))
      url.searchParams.set('heartbeat', String(this.options.heartbeatSeconds ?? 10));
    const connection = await connect(url.toString(), {
      clientProperties: { connection_name: this.options.name },
      // Acks and confirms are small frames: Nagle's algorithm would hold them back.
      noDelay: true,
    });
    connection.on('error', (error: Error) => {
      this.lastError = error;
    });
    return connection;
  }

  /** Makes a fresh connection current and lets every listener set up its channels on it. */
  private async attach(connection: ChannelModel): Promise<void> {
    this.connection = connection;
    this.lastError = undefined;
    this.backoff.reset();
    this.options.logger.info('connected to the broker');
    await Promise.all(this.listeners.map((l) => l.onConnected(connection)));
  }

  /** Waits for the current connection to close, then reconnects until it succeeds, forever. */
  private async keepAlive(closed: Promise<void>): Promise<void> {
    for (;;) {
      await Promise.race([
        closed,
        new Promise((resolve) =>
          this.stopping.signal.addEventListener('abort', resolve, { once: true }),
        ),
      ]);
      this.connection = undefined;
      for (const listener of this.listeners) listener.onDisconnected();
      if (this.stopping.signal.aborted) return;
      this.options.logger.warn(
        { err: this.lastError ? errorMessage(this.lastError) : 'closed by the broker' },
        'broker connection lost',
      );
      closed = (await this.reconnect()).closed;
    }
  }

  private async reconnect(): Promise<{ closed: Promise<void> }> {
    while (!this.stopping.signal.aborted) {
      await sleep(this.backoff.next(), this.stopping.signal);
      if (this.stopping.signal.aborted) break;
      let connection: ChannelModel;
      try {
        connection = await this.open();
      } catch (error) {
        this.lastError = error as Error;
        this.options.logger.warn({ err: errorMessage(error) }, 'broker unreachable, reconnecting');
        continue;
      }
      const closed = closedPromise(connection);
      try {
        await this.attach(connection);
        return { closed };
      } catch (error) {
        this.lastError = error as Error;
        this.connection = undefined;
        this.options.logger.error(
          { err: errorMessage(error) },
          'channel set-up failed, reconnecting',
        );
        await connection.close().catch(() => undefined);
      }
    }
    return { closed: Promise.resolve() };
  }

  /**
   * Drops the current connection so that it is re-established and every listener set up again
   * (with backoff while that fails): used when the broker cancels a consumer, e.g. because its
   * queue was deleted and the operator has yet to declare it again.
   */
  restart(reason: string): void {
    const connection = this.connection;
    if (!connection) return;
    this.lastError = new Error(reason);
    this.options.logger.warn({ reason }, 'restarting the broker connection');
    connection.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.stopping.abort();
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await connection.close().catch(() => undefined);
    await this.loop;
  }
}

function closedPromise(connection: ChannelModel): Promise<void> {
  return new Promise((resolve) => connection.once('close', () => resolve()));
}
