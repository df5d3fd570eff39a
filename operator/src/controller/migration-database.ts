/**
 * Reads what Prisma recorded in the database: `_prisma_migrations` rows that finished and were
 * not rolled back, oldest first. One short connection per read; the URL is never logged. The
 * driver (`pg`) is loaded at the first read.
 */
import { connectionOf } from './migration-job';

export interface AppliedMigration {
  name: string;
  appliedAt?: string;
}

const quoteIdentifier = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function readAppliedMigrations(
  url: string,
  timeoutMs = 5000,
): Promise<AppliedMigration[]> {
  const { connectionString, schema } = connectionOf(url);
  // Loaded on the first read: an operator with no DatabaseMigration never pays for the driver.
  const { Client } = await import('pg');
  const client = new Client({
    connectionString,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: 'warren-operator',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const result = await client.query<{ migration_name: string; finished_at: Date }>(
      `SELECT migration_name, finished_at FROM ${quoteIdentifier(schema)}._prisma_migrations
        WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL
        ORDER BY finished_at, migration_name`,
    );
    return result.rows.map((row) => ({
      name: row.migration_name,
      appliedAt: new Date(row.finished_at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    }));
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A database error as one line that names no credentials. */
export function describeDatabaseError(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === '42P01') return 'no _prisma_migrations table';
  const message = (error as Error).message ?? String(error);
  return message.replace(/\/\/[^@/\s]*@/g, '//***@');
}
