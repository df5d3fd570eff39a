import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { DATABASE_URL, databaseChecks, ReadinessChecks } from '@warren/service-kit';
import { join } from 'node:path';
import { Prisma, PrismaClient } from '../generated/prisma/client';

export type Tx = Prisma.TransactionClient;

/** The service's Prisma client (pg driver adapter, no Rust engine); /readyz checks it is migrated. */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(DATABASE_URL) databaseUrl: string,
    private readonly readiness: ReadinessChecks,
  ) {
    super({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
  }

  onModuleInit(): void {
    databaseChecks(this, join(__dirname, '..', '..', 'prisma', 'migrations')).forEach((c) => this.readiness.register(c));
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }
}
