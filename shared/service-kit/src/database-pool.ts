import { pgTransactions } from '@warren/messaging';
import { Pool, type PoolClient } from 'pg';
import { integerFrom } from './environment';
import type { RawSqlClient, TransactionRunner } from './idempotency';

/** The service's one bounded connection pool, shared by its Prisma client and its raw SQL. */
export interface PoolSettings {
  /** Connections at most (DATABASE_POOL_SIZE, default 10). */
  size: number;
  /**
   * Requests that may wait for a connection (DATABASE_POOL_QUEUE, default 100); beyond that a
   * request is answered 503 with Retry-After instead of joining an ever longer queue.
   */
  queue: number;
  /** How long a request waits for a connection before it fails (DATABASE_POOL_WAIT_MS, default 5000). */
  waitMs: number;
  /**
   * Reads per statement of a batched point read at most (DATABASE_READ_BATCH_SIZE, default 100);
   * 1 sends each read alone, at once, as many at a time as the pool has connections.
   */
  readBatchSize: number;
}

/**
 * From the environment. The messaging worker's pool is its own, for the consumers' transactions
 * and the sweeps (MESSAGING_DATABASE_POOL_SIZE, default 5); the relay keeps its 4 connections.
 */
export function poolSettingsFrom(
  env: NodeJS.ProcessEnv,
  thread: 'http' | 'messaging' = 'http',
): PoolSettings {
  return {
    size:
      thread === 'messaging'
        ? integerFrom(env, 'MESSAGING_DATABASE_POOL_SIZE', 5, 1, 1000)
        : integerFrom(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    queue: integerFrom(env, 'DATABASE_POOL_QUEUE', 100, 0, 100_000),
    waitMs: integerFrom(env, 'DATABASE_POOL_WAIT_MS', 5_000, 1, 600_000),
    readBatchSize: integerFrom(env, 'DATABASE_READ_BATCH_SIZE', 100, 1, 10_000),
  };
}

export function createPool(databaseUrl: string, settings: PoolSettings): Pool {
  const pool = new Pool({
    connectionString: databaseUrl,
    max: settings.size,
    connectionTimeoutMillis: settings.waitMs,
  });
  // An idle client whose server went away: the pool drops it; without a listener it would crash.
  pool.on('error', () => undefined);
  return pool;
}

/** A transaction's connection as the idempotency store, the outbox and the services use it. */
export interface SqlTx extends RawSqlClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

function sqlTx(client: Pick<PoolClient, 'query'>): SqlTx {
  return {
    $queryRawUnsafe: async <T>(query: string, ...values: unknown[]) =>
      (await client.query(query, values)).rows as T,
    $executeRawUnsafe: async (query: string, ...values: unknown[]) =>
      (await client.query(query, values)).rowCount ?? 0,
  };
}

/**
 * Transactions on the pool without an ORM in between (the messaging module's BEGIN / COMMIT,
 * ROLLBACK on failure): what the write paths use where each statement counts.
 */
export class SqlTransactions implements TransactionRunner<SqlTx> {
  private readonly runner: ReturnType<typeof pgTransactions>;
  /** Each statement on its own pooled connection, autocommitted: for writes that are one statement. */
  readonly direct: SqlTx;

  constructor(readonly pool: Pool) {
    this.runner = pgTransactions(pool);
    this.direct = sqlTx(pool);
  }

  $transaction<R>(work: (tx: SqlTx) => Promise<R>): Promise<R> {
    return this.runner.transaction((client) => work(sqlTx(client)));
  }
}

/** PostgreSQL's unique_violation: the row (e.g. an email) exists already. */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === '23505';
}
