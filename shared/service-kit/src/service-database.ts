import { type DynamicModule, Global, Inject, Injectable, Module, type OnModuleDestroy, type OnModuleInit, type Type } from '@nestjs/common';
import { databaseChecks, ReadinessChecks } from './health';
import type { RawSqlClient } from './idempotency';
import { OUTBOX, type TransactionalOutbox } from './outbox';

/** The connection string a service's PrismaService is built with. */
export const DATABASE_URL = Symbol('DATABASE_URL');
const SERVICE_DATABASE = Symbol('SERVICE_DATABASE');
const MIGRATIONS_DIR = Symbol('MIGRATIONS_DIR');

export interface ServiceDatabaseOptions {
  /** The service's PrismaService class (its own generated client, built from DATABASE_URL). */
  client: Type<RawSqlClient & { $disconnect(): Promise<void> }>;
  databaseUrl: string;
  /** The service's committed migrations, which /readyz requires to be applied. */
  migrationsDir: string;
  /** The transactional outbox (the messaging module's, once wired); absent for a service that emits nothing. */
  outbox?: TransactionalOutbox<never>;
}

/** Registers the database's readiness checks and closes its connections on shutdown. */
@Injectable()
class DatabaseLifecycle implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(SERVICE_DATABASE) private readonly client: RawSqlClient & { $disconnect(): Promise<void> },
    @Inject(MIGRATIONS_DIR) private readonly migrationsDir: string,
    private readonly readiness: ReadinessChecks,
  ) {}

  onModuleInit(): void {
    databaseChecks(this.client, this.migrationsDir).forEach((check) => this.readiness.register(check));
  }

  async onModuleDestroy(): Promise<void> {
    await this.client.$disconnect();
  }
}

/** Provides the service's Prisma client and outbox to every module of the app. */
@Global()
@Module({})
export class ServiceDatabaseModule {
  static forRoot(options: ServiceDatabaseOptions): DynamicModule {
    const outbox = options.outbox ? [{ provide: OUTBOX, useValue: options.outbox }] : [];
    return {
      module: ServiceDatabaseModule,
      providers: [
        { provide: DATABASE_URL, useValue: options.databaseUrl },
        { provide: MIGRATIONS_DIR, useValue: options.migrationsDir },
        options.client,
        { provide: SERVICE_DATABASE, useExisting: options.client },
        DatabaseLifecycle,
        ...outbox,
      ],
      exports: [options.client, ...outbox.map((p) => p.provide)],
    };
  }
}
