import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  type ErrorCapturingSqlMigrationAwareDriverAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import { withDatabase } from './connection-url';

const TEXT_OID = 25;
const FIRST_NORMAL_OBJECT_ID = 16384;

/**
 * Built-in type OIDs @prisma/adapter-pg 7.10 converts. The schema engine's catalog queries also
 * return internal types (`"char"`, `regproc`, `oidvector`, ...) that the adapter refuses
 * (prisma/orm#27403); their text form is all the engine needs, so they are reported as text.
 */
const ADAPTER_KNOWN_OIDS = new Set([
  16, 17, 19, 20, 21, 23, 25, 26, 114, 142, 650, 700, 701, 790, 869, 1042, 1043, 1082, 1083, 1114,
  1184, 1266, 1560, 1562, 1700, 2950, 3802,
  // arrays
  143, 199, 651, 791, 1000, 1001, 1002, 1005, 1007, 1009, 1014, 1015, 1016, 1021, 1022, 1028, 1041,
  1115, 1182, 1183, 1185, 1231, 1561, 1563, 2951, 3807,
]);

export function reportUnknownBuiltinTypesAsText(fields: { dataTypeID: number }[]): void {
  for (const field of fields) {
    if (field.dataTypeID < FIRST_NORMAL_OBJECT_ID && !ADAPTER_KNOWN_OIDS.has(field.dataTypeID)) {
      field.dataTypeID = TEXT_OID;
    }
  }
}

type QueryCallback = (error: Error | null, result?: pg.QueryResult) => void;

/** A pg client whose results never name a built-in type the adapter cannot convert. */
class TypeTolerantClient extends pg.Client {
  // pg's query() has many overloads (promise or callback); this passes every form through.
  override query(...args: unknown[]): never {
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      const callback = last as QueryCallback;
      args[args.length - 1] = (error: Error | null, result?: pg.QueryResult) => {
        if (result?.fields) reportUnknownBuiltinTypesAsText(result.fields);
        callback(error, result);
      };
      return (super.query as (...a: unknown[]) => never)(...args);
    }
    const pending = (super.query as (...a: unknown[]) => unknown)(...args);
    if (pending instanceof Promise) {
      return pending.then((result: pg.QueryResult) => {
        if (result?.fields) reportUnknownBuiltinTypesAsText(result.fields);
        return result;
      }) as never;
    }
    return pending as never;
  }
}

function adapterFactoryFor(connectionString: string): PrismaPg {
  const pool = new pg.Pool({ connectionString, Client: TypeTolerantClient });
  return new PrismaPg(pool, { disposeExternalPool: true });
}

/**
 * adapter-pg 7.10 splits a migration script on every `;`, which breaks function bodies
 * (`$$ ... ; ... $$`). Like Prisma's native engine, this sends the script whole: PostgreSQL's
 * simple query protocol runs its statements in order, as one implicit transaction.
 */
async function connectRunningWholeScripts(factory: PrismaPg): Promise<SqlDriverAdapter> {
  const adapter = await factory.connect();
  const queryable = adapter as unknown as { client: pg.Pool; onError(error: unknown): never };
  adapter.executeScript = async (script: string) => {
    try {
      await queryable.client.query(script);
    } catch (error) {
      queryable.onError(error);
    }
  };
  return adapter;
}

async function runAdminStatement(connectionString: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * adapter-pg's own `connectToShadowDb()` creates the shadow database but connects to the main one
 * (its connection string wins over the `database` option), and drops it while its pool is open.
 * This one connects to the shadow database by name and closes the pool before dropping it.
 */
class MigrationAdapterFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = 'postgres' as const;
  readonly adapterName = '@prisma/adapter-pg';

  constructor(
    private readonly url: string,
    private readonly shadowDatabaseUrl: string | undefined,
  ) {}

  connect(): Promise<SqlDriverAdapter> {
    return connectRunningWholeScripts(adapterFactoryFor(this.url));
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    if (this.shadowDatabaseUrl)
      return connectRunningWholeScripts(adapterFactoryFor(this.shadowDatabaseUrl));
    const name = `prisma_migrate_shadow_db_${globalThis.crypto.randomUUID()}`;
    await runAdminStatement(this.url, `CREATE DATABASE "${name}"`);
    const adapter = await connectRunningWholeScripts(
      adapterFactoryFor(withDatabase(this.url, name)),
    );
    const closePool = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await closePool();
      await runAdminStatement(this.url, `DROP DATABASE IF EXISTS "${name}"`);
    };
    return adapter;
  }
}

export function migrationAdapterFactory(
  url: string,
  shadowDatabaseUrl?: string,
): ErrorCapturingSqlMigrationAwareDriverAdapterFactory {
  return bindMigrationAwareSqlAdapterFactory(new MigrationAdapterFactory(url, shadowDatabaseUrl));
}
