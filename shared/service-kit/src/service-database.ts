import { type DynamicModule, Global, Module, type Type } from '@nestjs/common';
import { OUTBOX, type TransactionalOutbox } from './outbox';

/** The connection string a service's PrismaService is built with. */
export const DATABASE_URL = Symbol('DATABASE_URL');

export interface ServiceDatabaseOptions {
  /** The service's PrismaService class (its own generated client). */
  client: Type<unknown>;
  databaseUrl: string;
  /** The transactional outbox (the messaging module's, once wired); absent for a service that emits nothing. */
  outbox?: TransactionalOutbox<never>;
}

/** Provides the service's Prisma client and outbox to every module of the app. */
@Global()
@Module({})
export class ServiceDatabaseModule {
  static forRoot(options: ServiceDatabaseOptions): DynamicModule {
    const outbox = options.outbox ? [{ provide: OUTBOX, useValue: options.outbox }] : [];
    return {
      module: ServiceDatabaseModule,
      providers: [{ provide: DATABASE_URL, useValue: options.databaseUrl }, options.client, ...outbox],
      exports: [options.client, ...outbox.map((p) => p.provide)],
    };
  }
}
