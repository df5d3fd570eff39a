import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { databaseReachable, migrationsApplied, ReadinessChecks } from '@warren/service-kit';
import { join } from 'node:path';
import { Prisma, PrismaClient } from '../generated/prisma/client';

export const DATABASE_URL = Symbol('DATABASE_URL');
export type Tx = Prisma.TransactionClient;

/** The service's Prisma client (driver adapter, no Rust engine), checked by /readyz. */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(DATABASE_URL) databaseUrl: string,
    private readonly readiness: ReadinessChecks,
  ) {
    super({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
  }

  onModuleInit(): void {
    this.readiness.register(databaseReachable(this));
    this.readiness.register(migrationsApplied(this, join(__dirname, '..', '..', 'prisma', 'migrations')));
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }
}
