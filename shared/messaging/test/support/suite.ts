import { Client, Pool, type PoolClient } from 'pg';
import {
  createTestDatabase,
  createTestVhost,
  type TestDatabase,
  type TestVhost,
} from '@warren/testing';
import type { PayloadOf, ServiceTopology } from '@warren/contracts';
import {
  createLogger,
  HandlerRegistry,
  migrationSql,
  pgTransactions,
  WarrenMessaging,
  type EnqueueOptions,
  type Outbox,
} from '../../src';

export interface SuiteServers {
  vhost: TestVhost;
  database: TestDatabase;
  /** Admin pool on the suite's database (migrations applied). */
  pool: Pool;
  dispose(): Promise<void>;
}

/** A fresh vhost and a fresh database with the messaging migration applied, for one suite. */
export async function suiteServers(prefix: string): Promise<SuiteServers> {
  const vhost = await createTestVhost(prefix);
  const database = await createTestDatabase(prefix);
  const client = new Client({ connectionString: database.url });
  await client.connect();
  await client.query(migrationSql());
  await client.query('CREATE TABLE effects (event_id text NOT NULL, note text)');
  await client.end();
  const pool = new Pool({ connectionString: database.url, max: 4 });
  // As in the module itself: an idle connection the server ends (the database dropped at
  // dispose while a client is still idle) is logged, not thrown into whichever test runs next.
  pool.on('error', (error) =>
    testLogger.warn({ err: error.message }, 'idle test connection failed'),
  );
  return {
    vhost,
    database,
    pool,
    dispose: async () => {
      await pool.end();
      await database.dispose();
      await vhost.dispose();
    },
  };
}

/** Logs go to a silent logger in tests unless LOG_LEVEL asks for them. */
export const testLogger = createLogger('test', { level: process.env.LOG_LEVEL ?? 'silent' });

/** Commits one event through the outbox in a transaction of its own (what a request does). */
export async function commitEvent(
  pool: Pool,
  outbox: Outbox,
  payload: PayloadOf<'order.created'>,
  options: EnqueueOptions = {},
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await outbox.enqueue(client, 'order.created', payload, options);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** A valid order.created payload; `quantity` doubles as a sequence number in ordering tests. */
export function orderPayload(orderId: string, quantity = 1): PayloadOf<'order.created'> {
  return {
    orderId,
    userId: 'u-1',
    items: [{ sku: 'A', quantity, unitPriceCents: 100 }],
    totalCents: 100 * quantity,
    currency: 'EUR',
  };
}

/**
 * A service whose one handler records every order.created in `effects`, consuming `topology`
 * from the broker at `amqpUrl`: the effect-counting set-up of the broker fault suites.
 */
export function recordingMessaging(
  servers: SuiteServers,
  service: string,
  topology: ServiceTopology,
  amqpUrl: string,
): WarrenMessaging<PoolClient> {
  const handlers = new HandlerRegistry<PoolClient>().on('order.created', async (event, ctx) => {
    await ctx.tx.query('INSERT INTO effects (event_id, note) VALUES ($1, $2)', [
      event.id,
      event.payload.orderId,
    ]);
  });
  return new WarrenMessaging<PoolClient>({
    service,
    topology,
    amqpUrl,
    databaseUrl: servers.database.url,
    transactions: pgTransactions(servers.pool),
    handlers,
    logger: testLogger,
  });
}

/** How many effects were recorded, and for how many distinct events. */
export async function effectCounts(pool: Pool): Promise<{ total: number; distinct: number }> {
  const result = await pool.query<{ total: number; distinct: number }>(
    'SELECT count(*)::int AS total, count(DISTINCT event_id)::int AS distinct FROM effects',
  );
  return result.rows[0]!;
}
