import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { serviceUserName } from '@warren/operator';
import { createTestDatabase, createTestVhost, managementRequest, repoRoot, type TestDatabase } from '@warren/testing';
import { Client } from 'pg';
import { applyTopology, servicePasswords, SERVICE_NAMES, startPlatform, type BrokerAccess, type Platform, type ServiceName } from '../../src';

export const EXAMPLES = path.join(repoRoot, 'examples');

export interface TestPlatform extends Platform {
  broker: BrokerAccess;
  databases: Record<ServiceName, string>;
  stateDir: string;
  /** `warren apply` again: repairs what was changed on the broker behind the engine's back. */
  reapplyTopology(): Promise<void>;
  dispose(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The platform in a fresh vhost with fresh databases, services on free ports, as `npm start` runs it. */
export async function startTestPlatform(prefix: string, env: NodeJS.ProcessEnv): Promise<TestPlatform> {
  const vhost = await createTestVhost(prefix);
  const broker: BrokerAccess = { amqpUrl: vhost.amqpUrl, managementUrl: vhost.managementUrl, vhost: vhost.vhost };
  const created: TestDatabase[] = [];
  const stateDir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  let platform: Platform | undefined;
  const dispose = async () => {
    await platform?.stop();
    for (const service of SERVICE_NAMES) {
      const user = `/api/users/${encodeURIComponent(serviceUserName(service, vhost.vhost))}`;
      await managementRequest(vhost.managementUrl, 'DELETE', user).catch(() => undefined);
    }
    await vhost.dispose();
    for (const database of created) await database.dispose();
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    const databases = {} as Record<ServiceName, string>;
    const ports = {} as Record<ServiceName, number>;
    for (const service of SERVICE_NAMES) {
      const database = await createTestDatabase(service.replace(/-/g, '_'));
      created.push(database);
      databases[service] = database.url;
      ports[service] = await freePort();
    }
    platform = await startPlatform({ stateDir, resources: EXAMPLES, broker, databases, ports, env });
    const passwords = servicePasswords(path.join(stateDir, 'credentials.json'), SERVICE_NAMES);
    return {
      ...platform,
      broker,
      databases,
      stateDir,
      reapplyTopology: async () => void (await applyTopology(EXAMPLES, broker, passwords)),
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** Polls until `probe` returns a value (not undefined); no fixed sleeps. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One SQL query on a service's database, as a test looks at it (not through the service). */
export async function query<T extends object>(databaseUrl: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export interface HttpAnswer<B = Record<string, unknown>> {
  status: number;
  body: B;
  headers: Headers;
}

/** A JSON request; `body` given as a string is sent as is (for malformed JSON). */
export async function http<B = Record<string, unknown>>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer<B>> {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as B, headers: response.headers };
}
