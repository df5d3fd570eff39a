import * as path from 'node:path';

/**
 * Where the project-owned servers live and listen. Every port can be moved with an environment
 * variable so the servers never collide with system services or with another checkout.
 */
export interface InfraConfig {
  stateDir: string;
  rabbitmq: {
    amqpPort: number;
    distPort: number;
    managementPort: number;
    prometheusPort: number;
    nodeName: string;
  };
  postgres: { port: number };
  prometheus: { port: number };
  /** Alertmanager, and the webhook receiver it notifies (writes alerts.log). */
  alertmanager: { port: number; webhookPort: number };
}

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`${name}=${raw} is not a TCP port (1-65535)`);
  }
  return value;
}

/** The repository root: three levels above this file (shared/testing/src/infra). */
export const repoRoot = path.resolve(__dirname, '../../../..');

export function loadInfraConfig(): InfraConfig {
  const stateDir = path.resolve(process.env.WARREN_STATE_DIR ?? path.join(repoRoot, '.warren'));
  const prometheusPort = port('WARREN_PROMETHEUS_PORT', 9099);
  return {
    stateDir,
    rabbitmq: {
      amqpPort: port('WARREN_RABBITMQ_PORT', 5682),
      distPort: port('WARREN_RABBITMQ_DIST_PORT', 25682),
      managementPort: port('WARREN_RABBITMQ_MANAGEMENT_PORT', 15682),
      prometheusPort: port('WARREN_RABBITMQ_PROMETHEUS_PORT', 15702),
      nodeName: process.env.WARREN_RABBITMQ_NODENAME ?? 'warren@localhost',
    },
    postgres: { port: port('WARREN_POSTGRES_PORT', 5442) },
    prometheus: { port: prometheusPort },
    // Next to Prometheus by default, so a checkout that moved Prometheus moves these too.
    alertmanager: {
      port: port('WARREN_ALERTMANAGER_PORT', prometheusPort + 3),
      webhookPort: port('WARREN_ALERT_WEBHOOK_PORT', prometheusPort + 4),
    },
  };
}

/** Connection URLs as environment variables, the names every Warren component reads. */
export interface ServerUrls {
  RABBITMQ_URL: string;
  RABBITMQ_MANAGEMENT_URL: string;
  RABBITMQ_PROMETHEUS_URL: string;
  DATABASE_URL: string;
  PROMETHEUS_URL: string;
  ALERTMANAGER_URL: string;
}

export function localServerUrls(config: InfraConfig): ServerUrls {
  return {
    RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:${config.rabbitmq.amqpPort}`,
    RABBITMQ_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${config.rabbitmq.managementPort}`,
    RABBITMQ_PROMETHEUS_URL: `http://127.0.0.1:${config.rabbitmq.prometheusPort}`,
    DATABASE_URL: `postgresql://postgres@127.0.0.1:${config.postgres.port}/postgres`,
    PROMETHEUS_URL: `http://127.0.0.1:${config.prometheus.port}`,
    ALERTMANAGER_URL: `http://127.0.0.1:${config.alertmanager.port}`,
  };
}
