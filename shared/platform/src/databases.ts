import { runPrisma } from '@warren/prisma-engine';
import { Client } from 'pg';
import { serviceDir, type ServiceName } from './services';

/** The URL of database `name` on the server of `serverUrl`, created when missing. */
export async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `prisma migrate deploy` of the service's committed migrations (offline schema engine). */
export async function migrateDatabase(service: ServiceName, databaseUrl: string): Promise<void> {
  const run = await runPrisma(['migrate', 'deploy'], { cwd: serviceDir(service), databaseUrl });
  if (run.code !== 0) {
    throw new Error(
      `prisma migrate deploy failed for ${service} (exit ${run.code}):\n${run.stdout}\n${run.stderr}`,
    );
  }
}
