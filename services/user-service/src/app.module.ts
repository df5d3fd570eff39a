import { type DynamicModule, Module } from '@nestjs/common';
import {
  ServiceDatabaseModule,
  ServiceKitModule,
  ServiceMessagingModule,
  type ServiceDescription,
  type ServiceMessaging,
} from '@warren/service-kit';
import { join } from 'node:path';
import { PrismaService } from './database/prisma.service';
import { UsersModule } from './users/users.module';

/** Committed migrations: services/<name>/prisma/migrations, beside src/ and dist/. */
const MIGRATIONS_DIR = join(__dirname, '..', 'prisma', 'migrations');

export const SERVICE: ServiceDescription = {
  name: 'user-service',
  description: 'Registers users and decides, in the order saga, whether a user may order.',
  version: '0.1.0',
};

export interface AppOptions {
  databaseUrl: string;
  /** The broker (production, end-to-end tests) or a bare outbox (service tests). */
  messaging: ServiceMessaging;
}

/** The composition root: database and messaging are given, so tests and main.ts build the same app. */
@Module({})
export class AppModule {
  static forRoot(options: AppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ServiceKitModule.forRoot(SERVICE.name),
        ServiceDatabaseModule.forRoot({
          client: PrismaService,
          databaseUrl: options.databaseUrl,
          migrationsDir: MIGRATIONS_DIR,
        }),
        ServiceMessagingModule.forRoot({
          service: SERVICE.name,
          databaseUrl: options.databaseUrl,
          messaging: options.messaging,
        }),
        UsersModule,
      ],
    };
  }
}
