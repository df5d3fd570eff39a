import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceDatabaseModule, ServiceKitModule, type ServiceDescription, type TransactionalOutbox } from '@warren/service-kit';
import { PrismaService, type Tx } from './database/prisma.service';
import { UsersModule } from './users/users.module';

export const SERVICE: ServiceDescription = {
  name: 'user-service',
  description: 'Registers users and decides, in the order saga, whether a user may order.',
  version: '0.1.0',
};

export interface AppOptions {
  databaseUrl: string;
  /** The transactional outbox (the messaging module's, once wired). */
  outbox: TransactionalOutbox<Tx>;
}

/** The composition root: database and outbox are given, so tests and main.ts build the same app. */
@Module({})
export class AppModule {
  static forRoot(options: AppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ServiceKitModule.forRoot(SERVICE.name),
        ServiceDatabaseModule.forRoot({ client: PrismaService, databaseUrl: options.databaseUrl, outbox: options.outbox }),
        UsersModule,
      ],
    };
  }
}
