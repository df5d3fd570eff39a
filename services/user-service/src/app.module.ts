import { type DynamicModule, Global, Module } from '@nestjs/common';
import { OUTBOX, ServiceKitModule, type TransactionalOutbox } from '@warren/service-kit';
import { DATABASE_URL, PrismaService, type Tx } from './database/prisma.service';
import { UsersModule } from './users/users.module';

export const SERVICE_NAME = 'user-service';

export interface AppOptions {
  databaseUrl: string;
  /** The transactional outbox (the messaging module's, once wired). */
  outbox: TransactionalOutbox<Tx>;
}

@Global()
@Module({})
class DatabaseModule {
  static forRoot(options: AppOptions): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [{ provide: DATABASE_URL, useValue: options.databaseUrl }, PrismaService, { provide: OUTBOX, useValue: options.outbox }],
      exports: [PrismaService, OUTBOX],
    };
  }
}

/** The composition root: the database and outbox are given, so tests and main.ts build the same app. */
@Module({})
export class AppModule {
  static forRoot(options: AppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [ServiceKitModule.forRoot(SERVICE_NAME), DatabaseModule.forRoot(options), UsersModule],
    };
  }
}
