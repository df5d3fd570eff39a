import pg from 'pg';
import { databaseName, redact, withDatabase } from './connection-url';

/** A failure the Prisma CLI understands: its P-code decides what it does next (P1003 → create). */
export class KnownEngineError extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

const INVALID_CATALOG_NAME = '3D000';
const INVALID_PASSWORD = '28P01';

function describeConnectFailure(url: string, error: unknown): KnownEngineError {
  const code = (error as { code?: string }).code;
  const where = `${new URL(url).hostname}:${new URL(url).port || 5432}`;
  if (code === INVALID_CATALOG_NAME) {
    return new KnownEngineError(
      'P1003',
      `Database \`${databaseName(url)}\` does not exist on the database server at \`${where}\``,
    );
  }
  if (code === INVALID_PASSWORD) {
    return new KnownEngineError(
      'P1000',
      `Authentication failed against database server at \`${where}\``,
    );
  }
  return new KnownEngineError(
    'P1001',
    `Can't reach database server at \`${where}\` (${redact(url)}): ${(error as Error).message}`,
  );
}

export async function canConnect(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw describeConnectFailure(url, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates the database the connection string names, connecting through the `postgres` maintenance database. */
export async function createDatabase(url: string): Promise<string> {
  const name = databaseName(url);
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  try {
    await client.connect();
  } catch (error) {
    throw describeConnectFailure(url, error);
  }
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    return name;
  } finally {
    await client.end();
  }
}
