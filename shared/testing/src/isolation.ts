import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { managementRequest } from './management';

/** A short unique suffix: suites running in parallel never pick the same names. */
export function uniqueName(prefix: string): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .slice(0, 30);
  return `${clean}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

function required(name: 'RABBITMQ_URL' | 'RABBITMQ_MANAGEMENT_URL' | 'DATABASE_URL'): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: run the tests through Jest's global setup (npm test)`);
  return value;
}

export interface TestVhost {
  vhost: string;
  /** AMQP URL of the admin user, pointing at this vhost. */
  amqpUrl: string;
  /** Management API base URL (with admin credentials). */
  managementUrl: string;
  username: string;
  password: string;
  dispose(): Promise<void>;
}

/** A fresh RabbitMQ virtual host for one suite, deleted (with everything in it and the users made for it) by dispose(). */
export async function createTestVhost(prefix = 'test'): Promise<TestVhost> {
  const amqp = new URL(required('RABBITMQ_URL'));
  const managementUrl = required('RABBITMQ_MANAGEMENT_URL');
  const vhost = uniqueName(prefix);
  const username = decodeURIComponent(amqp.username);
  const password = decodeURIComponent(amqp.password);
  const path = `/api/vhosts/${encodeURIComponent(vhost)}`;
  await managementRequest(managementUrl, 'PUT', path, {});
  await managementRequest(
    managementUrl,
    'PUT',
    `/api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(username)}`,
    {
      configure: '.*',
      write: '.*',
      read: '.*',
    },
  );
  amqp.pathname = `/${encodeURIComponent(vhost)}`;
  return {
    vhost,
    amqpUrl: amqp.toString(),
    managementUrl,
    username,
    password,
    dispose: async () => {
      await managementRequest(managementUrl, 'DELETE', path);
      // Users are global in RabbitMQ: the per-service users Warren made for this vhost go too.
      const users = await managementRequest<{ name: string }[]>(managementUrl, 'GET', '/api/users');
      for (const user of users.filter((u) => u.name.endsWith(`@${vhost}`))) {
        await managementRequest(
          managementUrl,
          'DELETE',
          `/api/users/${encodeURIComponent(user.name)}`,
        );
      }
    },
  };
}

export interface TestDatabase {
  name: string;
  url: string;
  dispose(): Promise<void>;
}

/** A fresh, empty PostgreSQL database for one suite, dropped by dispose() even if still in use. */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const serverUrl = required('DATABASE_URL');
  const name = uniqueName(prefix);
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    dispose: async () => {
      const client = new Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** One SQL query on a database, as a test looks at a service's rows (not through the service). */
export async function queryDatabase<T extends object>(
  databaseUrl: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
