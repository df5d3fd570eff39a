import { type DynamicModule, Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import type { EventType, ServiceTopology } from '@warren/contracts';
import {
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
 * Provides OUTBOX to the service. With the broker: the messaging module runs the relay and the
 * consumers (handler transactions run on the service's pool without an ORM: the inbox row and the
 * handler's statements on one connection, as the HTTP write paths do), logs through the
 * service's logger, counts into its /metrics registry and adds its readiness checks.
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
        providers: [{ provide: OUTBOX, useValue: messaging.outbox }],
        exports: [OUTBOX],
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
      ],
      exports: [OUTBOX],
    };
  }
}
