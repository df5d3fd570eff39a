import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { serviceUserName } from '@warren/contracts/naming';
import {
  createTestDatabase,
  createTestVhost,
  managementRequest,
  repoRoot,
  type TestDatabase,
} from '@warren/testing';
import { applyTopology, servicePasswords, type BrokerAccess } from './broker';
import { startPlatform, type Platform } from './platform';
import { SERVICE_NAMES, type ServiceName } from './services';

export const EXAMPLES = path.join(repoRoot, 'examples');

/** The platform isolated for a test suite or a benchmark run, deleted whole by dispose(). */
export interface IsolatedPlatform extends Platform {
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

/**
 * The platform in a fresh vhost (createTestVhost) with fresh databases (createTestDatabase) and the
 * services on free ports, started as `npm start` starts it. Needs RABBITMQ_URL,
 * RABBITMQ_MANAGEMENT_URL and DATABASE_URL (Jest's global setup, or startTestServers()).
 */
export async function startIsolatedPlatform(
  prefix: string,
  env: NodeJS.ProcessEnv = {},
): Promise<IsolatedPlatform> {
  const vhost = await createTestVhost(prefix);
  const broker: BrokerAccess = {
    amqpUrl: vhost.amqpUrl,
    managementUrl: vhost.managementUrl,
    vhost: vhost.vhost,
  };
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
    platform = await startPlatform({
      stateDir,
      resources: EXAMPLES,
      broker,
      databases,
      ports,
      env,
    });
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
