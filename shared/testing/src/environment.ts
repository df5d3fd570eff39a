import * as fs from 'node:fs';
import { startContainers } from './containers';
import { infraDown, infraUp, loadInfraConfig, type ServerUrls } from './infra';

export type ServerSource = 'environment' | 'testcontainers' | 'local';

export interface TestServers {
  urls: ServerUrls;
  source: ServerSource;
  /** Stops exactly what was started for this run (nothing when the servers were given or already up). */
  stop(): Promise<void>;
}

const REQUIRED = ['RABBITMQ_URL', 'RABBITMQ_MANAGEMENT_URL', 'DATABASE_URL'] as const;

function urlsFromEnvironment(): ServerUrls | undefined {
  if (!REQUIRED.every((key) => process.env[key])) return undefined;
  return {
    RABBITMQ_URL: process.env.RABBITMQ_URL!,
    RABBITMQ_MANAGEMENT_URL: process.env.RABBITMQ_MANAGEMENT_URL!,
    RABBITMQ_PROMETHEUS_URL: process.env.RABBITMQ_PROMETHEUS_URL ?? '',
    DATABASE_URL: process.env.DATABASE_URL!,
    PROMETHEUS_URL: process.env.PROMETHEUS_URL ?? '',
    ALERTMANAGER_URL: process.env.ALERTMANAGER_URL ?? '',
  };
}

/** A Docker engine is worth trying only when a socket or DOCKER_HOST says one may exist. */
function dockerMayExist(): boolean {
  if (process.env.WARREN_USE_DOCKER === '0') return false;
  return Boolean(process.env.DOCKER_HOST) || fs.existsSync('/var/run/docker.sock');
}

/**
 * The servers a test run talks to, first match wins:
 * 1. URLs given in the environment (a developer's own servers, CI services);
 * 2. Testcontainers, when a Docker engine answers;
 * 3. the project's own local processes (`npm run infra -- up`), started if they are not running.
 */
export async function startTestServers(
  log: (line: string) => void = () => {},
): Promise<TestServers> {
  const given = urlsFromEnvironment();
  if (given) return { urls: given, source: 'environment', stop: async () => {} };

  if (dockerMayExist()) {
    const containers = await startContainers(log).catch((error: Error) => {
      log(`Docker engine not usable (${error.message}); using local servers`);
      return undefined;
    });
    if (containers) return containers;
  }

  const config = loadInfraConfig();
  const { urls, started } = await infraUp(log, config);
  return {
    urls,
    source: 'local',
    stop: () => (started.length > 0 ? infraDown(log, config, started) : Promise.resolve()),
  };
}
