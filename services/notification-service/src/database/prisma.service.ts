import { Inject, Injectable } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { DATABASE_POOL } from '@warren/service-kit';
import type { Pool } from 'pg';
import { Prisma, PrismaClient } from '../generated/prisma/client';

export type Tx = Prisma.TransactionClient;

/** The service's Prisma client: pg driver adapter on the service's one bounded pool, no Rust engine. */
@Injectable()
export class PrismaService extends PrismaClient {
  constructor(@Inject(DATABASE_POOL) pool: Pool) {
    super({ adapter: new PrismaPg(pool) });
  }
}
