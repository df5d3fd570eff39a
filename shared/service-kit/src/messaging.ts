import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import type { EventType, ServiceTopology } from '@warren/contracts';
import {
  loadServiceTopology,
  Outbox,
  sqlExecutor,
  verifyTopology,
  WarrenMessaging,
  type EnqueueOptions,
  type PrismaLike,
  type Statement,
} from '@warren/messaging';
import { WarrenMessagingModule } from '@warren/messaging/nest';
import type { Logger } from 'pino';
import { SqlTransactions, type SqlTx } from './database-pool';
import { ReadinessChecks, type ReadinessCheck } from './health';
import { stdoutDestination } from './logger';
import { MessagingWorkerHost, SERVICE_THREAD, type ServiceThread } from './messaging-thread';
import { ServiceMetrics } from './metrics';
import { OUTBOX, type OutgoingEvent, type TransactionalOutbox } from './outbox';
import { SERVICE_LOGGER } from './service-app';

/** Where a service's events go. */
export type ServiceMessaging =
  /** The broker, through @warren/messaging: topology from the document, credentials from the URL. */
  | {
      kind: 'broker';
      /** Default: $WARREN_TOPOLOGY_FILE (or the ConfigMap mount). */
      topologyFile?: string;
      topology?: ServiceTopology;
      /** The service's own broker user and vhost. Default: $RABBITMQ_URL. */
      amqpUrl?: string;
      /** Which part of the service this thread runs (default: all of it, on this thread). */
      thread?: ServiceThread;
    }
  /** Service tests without a broker: events are only stored (e.g. `TableOutbox`). */
  | { kind: 'outbox'; outbox: TransactionalOutbox<never> };

/** The messaging module's outbox behind the services' `append(tx, event)` seam. */
export class MessagingOutbox implements TransactionalOutbox<PrismaLike> {
  constructor(private readonly outbox: Outbox) {}

  async append<T extends EventType>(tx: PrismaLike, event: OutgoingEvent<T>): Promise<void> {
    await this.outbox.enqueue(tx, event.type, event.payload, enqueueOptions(event));
  }

  rowStatement<T extends EventType>(event: OutgoingEvent<T>, first: number): Statement {
    return this.outbox.rowStatement(event.type, event.payload, enqueueOptions(event), first);
  }
}

function enqueueOptions(event: OutgoingEvent): EnqueueOptions {
  return {
    ...(event.causationId ? { causationId: event.causationId } : {}),
    ...(event.aggregateKey ? { aggregateKey: event.aggregateKey } : {}),
  };
}

/** The broker side of /readyz: connected with every consumer subscribed, and the topology present. */
export function messagingChecks(messaging: WarrenMessaging<unknown>): ReadinessCheck[] {
  return [
    {
      name: 'broker',
      probe: async () => {
        const health = messaging.health();
        if (!health.ready) {
          throw new Error(
            `broker ${health.broker}, consumers ${health.consumers}${health.failure ? `: ${health.failure}` : ''}`,
          );
        }
      },
    },
    {
      // Passive declares only: the operator owns the topology, the service never declares it.
      name: 'topology',
      probe: async () => {
        const connection = messaging.connections.current;
        if (!connection) throw new Error('no broker connection to check the topology with');
        await verifyTopology(connection, messaging.topology);
      },
    },
  ];
}

@Injectable()
class MessagingReadiness implements OnModuleInit {
  constructor(
    @Inject(WarrenMessaging) private readonly messaging: WarrenMessaging<unknown>,
    private readonly readiness: ReadinessChecks,
  ) {}

  onModuleInit(): void {
    messagingChecks(this.messaging).forEach((check) => this.readiness.register(check));
  }
}

/**
 * The HTTP thread's side of the messaging worker: starts it with the app's modules, waits for it
 * before the app listens, serves its readiness checks and metrics as this thread's own, and
 * stops it (in-flight events first) before the app's pools close.
 */
@Injectable()
class MessagingWorkerLifecycle
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly host: MessagingWorkerHost;

  constructor(
    @Inject(SERVICE_THREAD) thread: ServiceThread,
    @Inject(SERVICE_LOGGER) logger: Logger,
    private readonly readiness: ReadinessChecks,
    private readonly metrics: ServiceMetrics,
  ) {
    if (thread.role !== 'http') throw new Error('the worker lifecycle belongs to the HTTP thread');
    this.host = new MessagingWorkerHost(thread.workerEntry, logger, (text) =>
      stdoutDestination().write(text),
    );
  }

  onModuleInit(): void {
    this.host.start();
  }

  async onApplicationBootstrap(): Promise<void> {
    const own = new Set(this.readiness.names());
    for (const name of (await this.host.ready()).filter((n) => !own.has(n))) {
      this.readiness.register({
        name,
        probe: async () => {
          const [outcome] = await this.host.side.readiness([name]);
          if (!outcome?.ok) throw new Error(outcome?.reason ?? `no check ${name} in the worker`);
        },
      });
    }
    this.metrics.addSource(() => this.host.side.metrics());
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.host.stop();
  }
}

/**
 * Provides OUTBOX and SERVICE_THREAD to the service. On the HTTP thread of a service whose
 * messaging runs in a worker: the outbox's rows only, and the worker. Otherwise, with the broker,
 * the messaging module runs the relay and the consumers (handler transactions run on the
 * service's pool without an ORM: the inbox row and the handler's statements on one connection,
 * as the HTTP write paths do), logs through the service's logger, counts into its /metrics
 * registry and adds its readiness checks.
 */
@Module({})
export class ServiceMessagingModule {
  static forRoot(options: {
    service: string;
    databaseUrl: string;
    messaging: ServiceMessaging;
  }): DynamicModule {
    const { messaging } = options;
    if (messaging.kind === 'outbox') {
      return {
        module: ServiceMessagingModule,
        global: true,
        providers: [
          { provide: OUTBOX, useValue: messaging.outbox },
          { provide: SERVICE_THREAD, useValue: { role: 'all' } satisfies ServiceThread },
        ],
        exports: [OUTBOX, SERVICE_THREAD],
      };
    }
    const thread: ServiceThread = messaging.thread ?? { role: 'all' };
    if (thread.role === 'http') {
      // Rows only: the worker's relay publishes them.
      const topology =
        messaging.topology ??
        loadServiceTopology({ service: options.service, file: messaging.topologyFile });
      return {
        module: ServiceMessagingModule,
        global: true,
        providers: [
          { provide: OUTBOX, useValue: new MessagingOutbox(new Outbox(topology)) },
          { provide: SERVICE_THREAD, useValue: thread },
          MessagingWorkerLifecycle,
        ],
        exports: [OUTBOX, SERVICE_THREAD],
      };
    }
    return {
      module: ServiceMessagingModule,
      global: true,
      imports: [
        WarrenMessagingModule.forRootAsync({
          inject: [SqlTransactions, ServiceMetrics, SERVICE_LOGGER],
          useFactory: (sql: SqlTransactions, metrics: ServiceMetrics, logger: Logger) => ({
            service: options.service,
            topology: messaging.topology,
            topologyFile: messaging.topologyFile,
            amqpUrl: messaging.amqpUrl,
            databaseUrl: options.databaseUrl,
            transactions: {
              transaction: (work) => sql.$transaction(work),
              executor: (tx: SqlTx) => sqlExecutor(tx),
            },
            registry: metrics.registry,
            logger,
          }),
        }),
      ],
      providers: [
        {
          provide: OUTBOX,
          inject: [Outbox],
          useFactory: (outbox: Outbox) => new MessagingOutbox(outbox),
        },
        MessagingReadiness,
        { provide: SERVICE_THREAD, useValue: thread },
      ],
      exports: [OUTBOX, SERVICE_THREAD],
    };
  }
}
