import { loadInfraConfig, localServerUrls, type InfraConfig, type ServerUrls } from './config';
import { AlertReceiverServer } from './alert-receiver';
import { AlertmanagerServer } from './alertmanager';
import { PostgresServer } from './postgres';
import { PrometheusServer } from './prometheus';
import { RabbitMqServer } from './rabbitmq';
import type { LocalServer } from './server';

export {
  loadInfraConfig,
  localServerUrls,
  repoRoot,
  type InfraConfig,
  type ServerUrls,
} from './config';
export { InfraError, run as runCommand, type RunResult } from './process';
export {
  RabbitMqServer,
  PostgresServer,
  PrometheusServer,
  AlertmanagerServer,
  AlertReceiverServer,
  type LocalServer,
};
export { FILE_TARGET_JOBS, type FileTargetJob, type ScrapeTarget } from './prometheus';
export { alertLogLine, type WebhookAlert } from './alert-receiver';

/**
 * Start order matters: Prometheus scrapes the broker and notifies Alertmanager, which notifies
 * the receiver. Stop order is the reverse.
 */
export function localServers(config: InfraConfig = loadInfraConfig()): LocalServer[] {
  return [
    new RabbitMqServer(config),
    new PostgresServer(config),
    new AlertReceiverServer(config),
    new AlertmanagerServer(config),
    new PrometheusServer(config),
  ];
}

export interface UpResult {
  urls: ServerUrls;
  /** The servers this call started (the others were already running). */
  started: string[];
}

/**
 * Installs (when missing) and starts every project-owned server that is not already running.
 * Idempotent: a second call finds them running and starts nothing.
 */
export async function infraUp(
  log: (line: string) => void = () => {},
  config = loadInfraConfig(),
): Promise<UpResult> {
  const started: string[] = [];
  for (const server of localServers(config)) {
    if (await server.isRunning()) continue;
    await server.install(log);
    const t0 = Date.now();
    await server.start(log);
    log(`${server.name} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    started.push(server.name);
  }
  return { urls: localServerUrls(config), started };
}

/** Stops the named servers (default: all of them) that were started from this state folder. */
export async function infraDown(
  log: (line: string) => void = () => {},
  config = loadInfraConfig(),
  only?: string[],
): Promise<void> {
  const errors: string[] = [];
  for (const server of localServers(config).reverse()) {
    if (only && !only.includes(server.name)) continue;
    await server.stop(log).catch((error: Error) => errors.push(`${server.name}: ${error.message}`));
  }
  if (errors.length > 0) throw new Error(errors.join('\n'));
}

export async function infraStatus(
  config = loadInfraConfig(),
): Promise<{ name: string; running: boolean; where: string }[]> {
  return Promise.all(
    localServers(config).map(async (server) => ({
      name: server.name,
      running: await server.isRunning(),
      where: server.describe(),
    })),
  );
}
