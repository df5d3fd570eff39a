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
import { databaseChecks, ReadinessChecks } from './health';
import type { RawSqlClient } from './idempotency';

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
}

/** Registers the database's readiness checks and closes its connections on shutdown. */
@Injectable()
class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(SERVICE_DATABASE)
    private readonly client: RawSqlClient & { $disconnect(): Promise<void> },
    @Inject(MIGRATIONS_DIR) private readonly migrationsDir: string,
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
        options.client,
        { provide: SERVICE_DATABASE, useExisting: options.client },
        DatabaseLifecycle,
      ],
      exports: [options.client],
    };
  }
}
