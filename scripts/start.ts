/**
 * `npm start`: the whole platform on this machine. Brings up the project's own servers, applies
 * examples/ with the Warren engine, migrates the three databases, builds and starts the three
 * services, and keeps them until Ctrl-C; then stops what it started.
 */
import * as path from 'node:path';
import {
  DEFAULT_PORTS,
  ensureDatabase,
  SERVICE_NAMES,
  startPlatform,
  type Platform,
  type ServiceName,
} from '@warren/platform';
import { loadInfraConfig, repoRoot, startTestServers, type TestServers } from '@warren/testing';

const log = (line: string) => process.stderr.write(`start: ${line}\n`);

async function main() {
  const config = loadInfraConfig();
  let servers: TestServers | undefined;
  let platform: Platform | undefined;
  const stop = async (code: number) => {
    log('stopping ...');
    await platform?.stop();
    await servers?.stop();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  try {
    // Servers named by RABBITMQ_URL / RABBITMQ_MANAGEMENT_URL / DATABASE_URL, else the project's own.
    const infra = (servers = await startTestServers(log));
    const databases = {} as Record<ServiceName, string>;
    for (const service of SERVICE_NAMES) {
      databases[service] = await ensureDatabase(
        infra.urls.DATABASE_URL,
        service.replace(/-/g, '_'),
      );
    }
    platform = await startPlatform({
      stateDir: config.stateDir,
      resources: path.join(repoRoot, 'examples'),
      broker: {
        amqpUrl: infra.urls.RABBITMQ_URL,
        managementUrl: infra.urls.RABBITMQ_MANAGEMENT_URL,
        vhost: '/',
      },
      databases,
      ports: DEFAULT_PORTS,
      log,
    });
  } catch (error) {
    log((error as Error).message);
    return stop(1);
  }

  for (const service of Object.values(platform.services))
    process.stdout.write(`${service.name.padEnd(21)}${service.url}\n`);
  const users = platform.services['user-service'].url;
  process.stdout.write(
    `\nTry: curl -s -X POST ${users}/users -H 'content-type: application/json' -d '{"email":"ada@example.com","name":"Ada Lovelace"}'\n` +
      `Logs: ${path.join(config.stateDir, 'logs')}   Ctrl-C stops everything started here.\n`,
  );
  setInterval(() => {}, 1 << 30);
}

void main();
