import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
  type Type,
} from '@nestjs/common';
import type { Pool } from 'pg';
import { createPool, poolSettingsFrom, SqlTransactions, type PoolSettings } from './database-pool';
import { databaseChecks, ReadinessChecks } from './health';
import { isMessagingWorker } from './messaging-thread';
import { ServiceMetrics } from './metrics';
import type { RawSqlClient } from './idempotency';
import { BatchedReads, type BatchedReadOptions } from './batched-reads';

/** The connection string of the service's database. */
export const DATABASE_URL = Symbol('DATABASE_URL');
/** The service's one bounded pg pool: its PrismaService is built on it (`new PrismaPg(pool)`). */
export const DATABASE_POOL = Symbol('DATABASE_POOL');
/** The pool's size, queue bound and wait (load shedding reads the queue bound). */
export const DATABASE_POOL_SETTINGS = Symbol('DATABASE_POOL_SETTINGS');
const SERVICE_DATABASE = Symbol('SERVICE_DATABASE');
const MIGRATIONS_DIR = Symbol('MIGRATIONS_DIR');

export interface ServiceDatabaseOptions {
  /** The service's PrismaService class (its own generated client, built from DATABASE_URL). */
  client: Type<RawSqlClient & { $disconnect(): Promise<void> }>;
  databaseUrl: string;
  /** The service's committed migrations, which /readyz requires to be applied. */
  migrationsDir: string;
  /** Default: from DATABASE_POOL_SIZE / DATABASE_POOL_QUEUE / DATABASE_POOL_WAIT_MS. */
  pool?: PoolSettings;
}

/** Registers the database's readiness checks and closes its connections on shutdown. */
@Injectable()
class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(SERVICE_DATABASE)
    private readonly client: RawSqlClient & { $disconnect(): Promise<void> },
    @Inject(MIGRATIONS_DIR) private readonly migrationsDir: string,
    @Inject(DATABASE_POOL) private readonly pool: Pool,
    private readonly readiness: ReadinessChecks,
  ) {}

  onModuleInit(): void {
    databaseChecks(this.client, this.migrationsDir).forEach((check) =>
      this.readiness.register(check),
    );
  }

  /** After the messaging module stopped its consumers and relay, which still use the client. */
  async onApplicationShutdown(): Promise<void> {
    await this.client.$disconnect();
    await this.pool.end().catch(() => undefined);
  }
}

/**
 * The service's batched point reads (see `BatchedReads`), counted in the metric
 * `database_read_batch_keys{reader}` and, while they wait to be sent, by load shedding.
 */
@Injectable()
export class PointReads {
  private readonly readers: BatchedReads<unknown, unknown>[] = [];

  constructor(
    private readonly metrics: ServiceMetrics,
    @Inject(DATABASE_POOL_SETTINGS) private readonly settings: PoolSettings,
  ) {}

  /** A reader named `name` in the metric; `load` fetches a statement's keys. */
  create<K, V>(name: string, load: BatchedReadOptions<K, V>['load']): BatchedReads<K, V> {
    const alone = this.settings.readBatchSize === 1;
    const reader = new BatchedReads<K, V>({
      maxBatch: this.settings.readBatchSize,
      // Unbatched, a read waits for a pool connection like any statement.
      inFlight: alone ? this.settings.size : 2,
      load,
      onBatch: (keys) => this.metrics.readBatchKeys.observe({ reader: name }, keys),
    });
    this.readers.push(reader as BatchedReads<unknown, unknown>);
    return reader;
  }

  /** Reads asked for and not yet sent, over every reader. */
  get waiting(): number {
    return this.readers.reduce((sum, reader) => sum + reader.waiting, 0);
  }
}

/** Provides the service's Prisma client to every module of the app. */
@Global()
@Module({})
export class ServiceDatabaseModule {
  static forRoot(options: ServiceDatabaseOptions): DynamicModule {
    return {
      module: ServiceDatabaseModule,
      providers: [
        { provide: DATABASE_URL, useValue: options.databaseUrl },
        { provide: MIGRATIONS_DIR, useValue: options.migrationsDir },
        {
          provide: DATABASE_POOL_SETTINGS,
          useFactory: () =>
            options.pool ??
            poolSettingsFrom(process.env, isMessagingWorker() ? 'messaging' : 'http'),
        },
        {
          provide: DATABASE_POOL,
          inject: [DATABASE_POOL_SETTINGS, ServiceMetrics],
          useFactory: (settings: PoolSettings, metrics: ServiceMetrics) => {
            const pool = createPool(options.databaseUrl, settings);
            metrics.watchPool(pool, settings.size);
            return pool;
          },
        },
        {
          provide: SqlTransactions,
          inject: [DATABASE_POOL],
          useFactory: (pool: Pool) => new SqlTransactions(pool),
        },
        options.client,
        { provide: SERVICE_DATABASE, useExisting: options.client },
        PointReads,
        DatabaseLifecycle,
      ],
      exports: [options.client, DATABASE_POOL, DATABASE_POOL_SETTINGS, SqlTransactions, PointReads],
    };
  }
}
