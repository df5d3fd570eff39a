import { Pool, type PoolClient } from 'pg';
import type { Registry } from 'prom-client';
import type { ServiceTopology } from '@warren/contracts';
import { ConnectionManager } from './connection';
import { EventConsumer, type ConsumerBatching } from './consumer/consumer';
import { HandlerRegistry } from './consumer/handlers';
import { pgTransactions, type TransactionRunner } from './database';
import { createLogger, type Logger } from './logger';
import { MessagingMetrics } from './metrics';
import { Outbox } from './outbox/outbox';
import { OutboxRelay, type RelayOptions } from './outbox/relay';
import { ConfirmPublisher } from './publisher';
import { loadServiceTopology } from './topology/document';
import { verifyTopology } from './topology/verify';

export interface WarrenMessagingOptions<Tx> {
  service: string;
  /** The document itself; else read from `topologyFile`, $WARREN_TOPOLOGY_FILE or the ConfigMap mount. */
  topology?: ServiceTopology;
  topologyFile?: string;
  /** AMQP URL with the service's credentials and vhost (default $RABBITMQ_URL). */
  amqpUrl?: string;
  /** The service's database, used by the relay (default $DATABASE_URL). */
  databaseUrl?: string;
  /** How handler transactions are run; default: node-postgres transactions on `databaseUrl`. */
  transactions?: TransactionRunner<Tx>;
  handlers?: HandlerRegistry<Tx>;
  /** Run the outbox relay in this process (default true when the service publishes anything). */
  relay?: boolean | RelayOptions;
  registry?: Registry;
  logger?: Logger;
  shutdownTimeoutMs?: number;
  /**
   * How consumers share transactions under load (default: up to 50 messages per transaction,
   * 4 transactions at once per queue; `{ maxMessages: 1 }` gives each message its own).
   */
  batching?: ConsumerBatching;
}

export interface MessagingHealth {
  ready: boolean;
  broker: 'connected' | 'disconnected';
  consumers: 'subscribed' | 'not subscribed' | 'none';
  failure?: string;
}

/**
 * The whole module for one service, framework-free: reads and checks the topology, keeps the
 * broker connection, runs the outbox relay and the consumers, and shuts them down in order.
 */
export class WarrenMessaging<Tx = PoolClient> {
  readonly topology: ServiceTopology;
  readonly logger: Logger;
  readonly metrics: MessagingMetrics;
  readonly outbox: Outbox;
  readonly handlers: HandlerRegistry<Tx>;
  /** Publishing (publisher, relay, retries, dead letters). */
  readonly connections: ConnectionManager;
  /**
   * Consuming, on a connection of its own: the broker's flow control throttles a connection
   * that publishes too fast, and must not hold back the acks of the consumers.
   */
  readonly consumerConnections: ConnectionManager;
  readonly publisher: ConfirmPublisher;
  readonly pool: Pool;
  private relay: OutboxRelay | undefined;
  private consumer: EventConsumer<Tx> | undefined;
  private started = false;

  constructor(private readonly options: WarrenMessagingOptions<Tx>) {
    this.topology =
      options.topology ??
      loadServiceTopology({ service: options.service, file: options.topologyFile });
    if (this.topology.service !== options.service) {
      throw new Error(
        `topology document is for "${this.topology.service}", not "${options.service}"`,
      );
    }
    this.logger = options.logger ?? createLogger(options.service);
    this.metrics = new MessagingMetrics(options.registry);
    this.outbox = new Outbox(this.topology);
    this.handlers = options.handlers ?? new HandlerRegistry<Tx>();
    const amqpUrl = options.amqpUrl ?? required('RABBITMQ_URL');
    this.connections = new ConnectionManager({
      url: amqpUrl,
      name: `${options.service} publisher (warren messaging)`,
      logger: this.logger,
    });
    this.consumerConnections = new ConnectionManager({
      url: amqpUrl,
      name: `${options.service} consumer (warren messaging)`,
      logger: this.logger,
    });
    this.publisher = new ConfirmPublisher(this.connections, this.topology, this.metrics);
    this.pool = new Pool({
      connectionString: options.databaseUrl ?? required('DATABASE_URL'),
      max: 4,
    });
    this.pool.on('error', (error) =>
      this.logger.warn({ err: error.message }, 'idle database connection failed'),
    );
  }

  /**
   * Connects, fails fast (TopologyMissingError) when an exchange or queue of the document does
   * not exist, then starts the relay and the consumers.
   */
  async start(): Promise<void> {
    try {
      await this.connections.start((connection) => verifyTopology(connection, this.topology));
    } catch (error) {
      await this.pool.end();
      throw error;
    }
    const relayOption = this.options.relay ?? this.topology.publishes.length > 0;
    if (relayOption) {
      this.relay = new OutboxRelay(
        this.pool,
        this.publisher,
        this.metrics,
        this.logger,
        relayOption === true ? {} : relayOption,
      );
      this.relay.start();
    }
    if (this.topology.consumes.length > 0) {
      await this.consumerConnections.start();
      this.consumer = new EventConsumer<Tx>({
        connections: this.consumerConnections,
        topology: this.topology,
        handlers: this.handlers,
        transactions:
          this.options.transactions ??
          (pgTransactions(this.pool) as unknown as TransactionRunner<Tx>),
        publisher: this.publisher,
        outbox: this.topology.publishes.length > 0 ? this.outbox : undefined,
        metrics: this.metrics,
        logger: this.logger,
        shutdownTimeoutMs: this.options.shutdownTimeoutMs,
        batching: this.options.batching,
      });
      await this.consumer.start();
    }
    this.started = true;
  }

  health(): MessagingHealth {
    const consuming = this.topology.consumes.length > 0;
    const broker =
      this.connections.ready && (!consuming || this.consumerConnections.ready)
        ? 'connected'
        : 'disconnected';
    const consumers = !this.consumer
      ? 'none'
      : this.consumer.ready
        ? 'subscribed'
        : 'not subscribed';
    return {
      ready: this.started && broker === 'connected' && consumers !== 'not subscribed',
      broker,
      consumers,
      failure: this.connections.failure ?? this.consumerConnections.failure,
    };
  }

  /** Outbox backlog (rows not yet confirmed) and the oldest row's age. */
  backlog() {
    return this.relay ? this.relay.backlog() : Promise.resolve({ size: 0, oldestAgeSeconds: 0 });
  }

  /** Consumers first (finish in-flight work), then the relay, then the connections. */
  async stop(): Promise<void> {
    await this.consumer?.stop();
    await this.relay?.stop();
    await this.consumerConnections.close();
    await this.connections.close();
    await this.pool.end();
    this.started = false;
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set and no URL was given to WarrenMessaging`);
  return value;
}
