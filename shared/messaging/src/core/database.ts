import type { Pool, PoolClient } from 'pg';

/**
 * The one thing the module needs from a transaction: run a parameterised statement and say how
 * many rows it touched. Adapters exist for a Prisma interactive transaction (`tx` of
 * `prisma.$transaction(async (tx) => ...)`) and for a node-postgres client.
 */
export interface SqlExecutor {
  execute(sql: string, params: unknown[]): Promise<number>;
}

/** The part of a Prisma client / interactive transaction used here. */
export interface PrismaLike {
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

/** The part of a node-postgres Client / PoolClient used here. */
export interface PgLike {
  query(text: string, values?: unknown[]): Promise<{ rowCount: number | null }>;
}

/** What `enqueue` and handlers accept as "the current transaction". */
export type SqlTarget = SqlExecutor | PrismaLike | PgLike;

export function sqlExecutor(target: SqlTarget): SqlExecutor {
  if ('execute' in target && typeof target.execute === 'function') return target;
  if ('$executeRawUnsafe' in target) {
    return { execute: (sql, params) => target.$executeRawUnsafe(sql, ...params) };
  }
  if ('query' in target) {
    return { execute: async (sql, params) => (await target.query(sql, params)).rowCount ?? 0 };
  }
  throw new TypeError(
    'expected a Prisma transaction client, a node-postgres client or an SqlExecutor',
  );
}

/**
 * Runs work in a database transaction of the service, handing it the transaction handle.
 * The consumer uses it to write the inbox row and the handler's changes atomically.
 */
export interface TransactionRunner<Tx> {
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  executor(tx: Tx): SqlExecutor;
}

/** A Prisma client: `prisma.$transaction(async (tx) => ...)`. */
export function prismaTransactions<Tx extends PrismaLike>(
  prisma: {
    $transaction<T>(
      work: (tx: Tx) => Promise<T>,
      options?: { timeout?: number; maxWait?: number },
    ): Promise<T>;
  },
  options: { timeoutMs?: number } = {},
): TransactionRunner<Tx> {
  return {
    transaction: (work) => prisma.$transaction(work, { timeout: options.timeoutMs ?? 30_000 }),
    executor: (tx) => sqlExecutor(tx),
  };
}

/**
 * Work on one pooled client, rolled back when it fails. A checked-out client has no error
 * listener of the pool's: without one, a server that drops the connection between statements
 * would crash the process instead of failing here; such a client (or one whose ROLLBACK failed)
 * is discarded, not returned to the pool.
 */
export async function withPooledClient<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  const markBroken = () => {
    broken = true;
  };
  client.on('error', markBroken);
  try {
    return await work(client);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.off('error', markBroken);
    client.release(broken);
  }
}

/** A node-postgres pool: BEGIN / COMMIT on one pooled client, ROLLBACK on failure. */
export function pgTransactions(pool: Pool): TransactionRunner<PoolClient> {
  return {
    transaction: (work) =>
      withPooledClient(pool, async (client) => {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      }),
    executor: (tx) => sqlExecutor(tx),
  };
}
