import type { DynamicModule, INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { runPrisma } from '@warren/prisma-engine';
import { createTestDatabase, type TestDatabase } from '@warren/testing';
import { Client } from 'pg';
import type { OutgoingEvent, Statement, TransactionalOutbox } from './outbox';

/** An event as TableOutbox stored it. */
export interface StoredEvent {
  type: string;
  payload: Record<string, unknown>;
  causationId?: string;
}
import type { RawSqlClient } from './idempotency';
import { configureServiceApp } from './service-app';

// Service logs stay out of test output unless asked for (LOG_LEVEL=info npm test).
process.env.LOG_LEVEL ??= 'warn';

/** A fresh database for one suite with the service's committed migrations applied by `prisma migrate deploy`. */
export async function createMigratedTestDatabase(
  serviceDir: string,
  prefix: string,
): Promise<TestDatabase> {
  const database = await createTestDatabase(prefix);
  const run = await runPrisma(['migrate', 'deploy'], {
    cwd: serviceDir,
    databaseUrl: database.url,
  });
  if (run.code !== 0) {
    await database.dispose();
    throw new Error(`prisma migrate deploy failed (${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  return database;
}

/**
 * An outbox for service tests that writes each event into table `test_outbox` through the
 * caller's transaction, so a rolled-back write leaves no event, as with the real outbox.
 */
export class TableOutbox implements TransactionalOutbox<RawSqlClient> {
  constructor(private readonly databaseUrl: string) {}

  async createTable(): Promise<void> {
    await this.query(
      'CREATE TABLE IF NOT EXISTS test_outbox (seq bigserial PRIMARY KEY, type text NOT NULL, payload jsonb NOT NULL, causation_id text)',
    );
  }

  async append(tx: RawSqlClient, event: OutgoingEvent): Promise<void> {
    const { sql, values } = this.rowStatement(event, 1);
    await tx.$executeRawUnsafe(sql, ...values);
  }

  rowStatement(event: OutgoingEvent, first: number): Statement {
    return {
      sql: `INSERT INTO test_outbox (type, payload, causation_id) VALUES ($${first}, $${first + 1}::jsonb, $${first + 2})`,
      values: [event.type, JSON.stringify(event.payload), event.causationId ?? null],
    };
  }

  /** Every committed event, oldest first. */
  async events(): Promise<StoredEvent[]> {
    const rows = await this.query<{
      type: string;
      payload: Record<string, unknown>;
      causation_id: string | null;
    }>('SELECT type, payload, causation_id FROM test_outbox ORDER BY seq');
    return rows.map((r) => ({
      type: r.type,
      payload: r.payload,
      ...(r.causation_id ? { causationId: r.causation_id } : {}),
    }));
  }

  private async query<T>(sql: string): Promise<T[]> {
    const client = new Client({ connectionString: this.databaseUrl });
    await client.connect();
    try {
      return (await client.query(sql)).rows as T[];
    } finally {
      await client.end();
    }
  }
}

/** The service's Nest app, configured as in production and initialised in-process (no port). */
export async function startTestApp(root: DynamicModule, name: string): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports: [root] }).compile();
  const app = moduleRef.createNestApplication({ bodyParser: false, logger: false });
  configureServiceApp(app, { name, description: `${name} under test`, version: 'test' });
  await app.init();
  return app;
}

/** Counts rows with plain SQL: what a test asserts about the database, not through the service. */
export async function countRows(databaseUrl: string, table: string): Promise<number> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${client.escapeIdentifier(table)}`,
    );
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}
