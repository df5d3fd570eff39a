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
import { NotificationsModule } from './notifications/notifications.module';

/** Committed migrations: services/<name>/prisma/migrations, beside src/ and dist/. */
const MIGRATIONS_DIR = join(__dirname, '..', 'prisma', 'migrations');

export const SERVICE: ServiceDescription = {
  name: 'notification-service',
  description:
    'Records the notifications sent for user.created, order.confirmed and order.cancelled.',
  version: '0.1.0',
};

export interface AppOptions {
  databaseUrl: string;
  /** The broker (production, end-to-end tests); absent in service tests, which call the handlers directly. */
  messaging?: ServiceMessaging;
}

/** The composition root: the database is given, so tests and main.ts build the same app. */
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
        ...(options.messaging
          ? [
              ServiceMessagingModule.forRoot({
                service: SERVICE.name,
                databaseUrl: options.databaseUrl,
                messaging: options.messaging,
              }),
            ]
          : []),
        NotificationsModule,
      ],
    };
  }
}
