import { Inject, Injectable } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { DATABASE_URL } from '@warren/service-kit';
import { Prisma, PrismaClient } from '../generated/prisma/client';

export type Tx = Prisma.TransactionClient;

/** The service's Prisma client: pg driver adapter, no Rust engine. */
@Injectable()
export class PrismaService extends PrismaClient {
  constructor(@Inject(DATABASE_URL) databaseUrl: string) {
    super({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
  }
}
