import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceDatabaseModule, ServiceKitModule, type ServiceDescription, type TransactionalOutbox } from '@warren/service-kit';
import { join } from 'node:path';
import { PrismaService, type Tx } from './database/prisma.service';
import { ORDER_TIMEOUTS, type OrderTimeoutSettings } from './orders/order-timeout-sweeper';
import { OrdersModule } from './orders/orders.module';

/** Committed migrations: services/<name>/prisma/migrations, beside src/ and dist/. */
const MIGRATIONS_DIR = join(__dirname, '..', 'prisma', 'migrations');

export const SERVICE: ServiceDescription = {
  name: 'order-service',
  description: 'Takes orders and runs the order saga: PENDING until CONFIRMED or CANCELLED, with the history of every transition.',
  version: '0.1.0',
};

export interface AppOptions {
  databaseUrl: string;
  /** The transactional outbox (the messaging module's, once wired). */
  outbox: TransactionalOutbox<Tx>;
  timeouts: OrderTimeoutSettings;
}

/** The composition root: database, outbox and timeouts are given, so tests and main.ts build the same app. */
@Module({})
export class AppModule {
  static forRoot(options: AppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ServiceKitModule.forRoot(SERVICE.name),
        ServiceDatabaseModule.forRoot({ client: PrismaService, databaseUrl: options.databaseUrl, migrationsDir: MIGRATIONS_DIR, outbox: options.outbox }),
        { module: OrdersModule, providers: [{ provide: ORDER_TIMEOUTS, useValue: options.timeouts }] },
      ],
    };
  }
}
