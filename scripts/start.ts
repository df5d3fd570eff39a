/**
 * `npm start`: the whole platform on this machine. Brings up the project's own servers, applies
 * examples/ with the Warren engine, migrates the three databases, builds and starts the three
 * services, loads the routes' alert rules into Prometheus (which scrapes the services and
 * notifies Alertmanager), and keeps them until Ctrl-C; then stops what it started.
 * WARREN_OPERATOR_METRICS=host:port adds a running operator's /metrics and its own alerts.
 */
import * as path from 'node:path';
import {
  DEFAULT_PORTS,
  ensureDatabase,
  SERVICE_NAMES,
  startMonitoring,
  startPlatform,
  type Monitoring,
  type Platform,
  type ServiceName,
} from '@warren/platform';
import { loadInfraConfig, repoRoot, startTestServers, type TestServers } from '@warren/testing';

const log = (line: string) => process.stderr.write(`start: ${line}\n`);

async function main() {
  const config = loadInfraConfig();
  let servers: TestServers | undefined;
  let platform: Platform | undefined;
  let monitoring: Monitoring | undefined;
  const stop = async (code: number) => {
    log('stopping ...');
    await monitoring?.stop().catch(() => undefined);
    await platform?.stop();
    await servers?.stop();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  const resources = path.join(repoRoot, 'examples');
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
      resources,
      broker: {
        amqpUrl: infra.urls.RABBITMQ_URL,
        managementUrl: infra.urls.RABBITMQ_MANAGEMENT_URL,
        vhost: '/',
      },
      databases,
      ports: DEFAULT_PORTS,
      log,
    });
    monitoring = await startMonitoring({
      name: 'local',
      resources,
      vhost: '/',
      services: Object.values(platform.services),
      operatorMetrics: process.env.WARREN_OPERATOR_METRICS || undefined,
    }).catch((error: Error) => {
      log(`no alerts: ${error.message}`);
      return undefined;
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
  if (monitoring) {
    process.stdout.write(
      `\nAlerts (rules per route, from examples/):\n` +
        `  Prometheus    ${monitoring.prometheusUrl}/alerts\n` +
        `  Alertmanager  ${monitoring.alertmanagerUrl}/#/alerts\n` +
        `  Notified      tail -f ${monitoring.alertsLog}\n` +
        `Grafana dashboards to import: ${monitoring.dashboardsDir}/*.json\n`,
    );
  }
  setInterval(() => {}, 1 << 30);
}

void main();
