import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import {
  applyTopology,
  serviceAmqpUrl,
  servicePasswords,
  writeTopologyDocuments,
  type BrokerAccess,
} from './broker';
import { migrateDatabase } from './databases';
import { buildServices, SERVICE_NAMES, ServiceProcess, type ServiceName } from './services';

export interface PlatformOptions {
  /** Keeps passwords, topology documents and service logs. */
  stateDir: string;
  /** The Warren resources to apply (EventRoutes, RetryPolicies). */
  resources: string;
  broker: BrokerAccess;
  /** Each service's database (it exists; its migrations are applied here). */
  databases: Record<ServiceName, string>;
  ports: Record<ServiceName, number>;
  host?: string;
  /** More environment for every service (LOG_LEVEL, ORDER_TIMEOUT_MS, ...). */
  env?: NodeJS.ProcessEnv;
  /** Skip `tsc -b` when the caller already built the services. */
  build?: boolean;
  log?: (line: string) => void;
}

export interface Platform {
  services: Record<ServiceName, ServiceProcess>;
  /** Stops every service (gracefully, in reverse start order). */
  stop(): Promise<void>;
}

/**
 * The data path's prerequisites in order: the topology applied by the engine (with a broker user
 * per service), each service's topology document, migrated databases, compiled services; then
 * the services themselves, each waited for until /readyz says ready.
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const log = options.log ?? (() => {});
  const passwords = servicePasswords(
    path.join(options.stateDir, 'credentials.json'),
    SERVICE_NAMES,
  );
  log(`topology: ${await applyTopology(options.resources, options.broker, passwords)}`);
  const topologyFiles = await writeTopologyDocuments(
    options.resources,
    options.broker,
    SERVICE_NAMES,
    path.join(options.stateDir, 'topology'),
  );
  for (const service of SERVICE_NAMES) await migrateDatabase(service, options.databases[service]);
  log('databases migrated');
  if (options.build ?? true) await buildServices(log);

  // Services get their own credentials only, never the administrator's management URL.
  const { RABBITMQ_MANAGEMENT_URL: _admin, ...inherited } = process.env;
  const logDir = path.join(options.stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const services = Object.fromEntries(
    SERVICE_NAMES.map((name) => [
      name,
      new ServiceProcess({
        name,
        port: options.ports[name],
        host: options.host ?? '127.0.0.1',
        logFile: path.join(logDir, `${name}.log`),
        env: {
          ...inherited,
          ...options.env,
          DATABASE_URL: options.databases[name],
          RABBITMQ_URL: serviceAmqpUrl(options.broker, name, passwords[name]),
          WARREN_TOPOLOGY_FILE: topologyFiles[name],
        },
      }),
    ]),
  ) as Record<ServiceName, ServiceProcess>;
  const stop = async () => {
    for (const name of [...SERVICE_NAMES].reverse()) await services[name].stop();
  };
  try {
    for (const service of Object.values(services)) service.start();
    await Promise.all(Object.values(services).map((service) => service.waitReady()));
  } catch (error) {
    await stop();
    throw error;
  }
  return { services, stop };
}
