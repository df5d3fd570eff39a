import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseRabbitMqVersion, type RabbitMqVersion } from './rabbitmq-versions';

/**
 * Where the project-owned servers live and listen. Every port can be moved with an environment
 * variable so the servers never collide with system services or with another checkout.
 */
export interface InfraConfig {
  stateDir: string;
  rabbitmq: {
    /** The first node's ports; node i (0-based) listens on each of them + i * nodePortStep. */
    amqpPort: number;
    distPort: number;
    managementPort: number;
    prometheusPort: number;
    /** The first node's name; node i > 0 is `<name>-<i+1>@<host>`. */
    nodeName: string;
    /** Default: the newest supported (see rabbitmq-versions.ts). */
    version?: RabbitMqVersion;
    /** How many clustered nodes (default 1). */
    nodes?: number;
    nodePortStep?: number;
    /** The Erlang port mapper's port for these nodes (default: Erlang's 4369). */
    epmdPort?: number;
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

function count(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`${name}=${raw} is not a whole number from 1 to ${max}`);
  }
  return value;
}

/** The repository root: three levels above this file (shared/testing/src/infra). */
export const repoRoot = path.resolve(__dirname, '../../../..');

export const MAX_RABBITMQ_NODES = 5;

/** The version and size of the broker last started from this state folder, if any. */
function lastStarted(stateDir: string): { version?: string; nodes?: number } {
  try {
    const record = JSON.parse(
      fs.readFileSync(path.join(stateDir, 'rabbitmq', 'running.json'), 'utf8'),
    ) as { version?: string; rabbitmq?: { nodes?: number } };
    return { version: record.version, nodes: record.rabbitmq?.nodes };
  } catch {
    return {};
  }
}

/**
 * The configuration from the environment. The broker's version and node count come from
 * WARREN_RABBITMQ_VERSION / WARREN_RABBITMQ_NODES; when neither is set, from the broker last
 * started from the state folder (so `up --rabbitmq 4.0` then `env`, `status` or a test run use
 * that one), else the defaults (the newest version, one node).
 */
export function loadInfraConfig(): InfraConfig {
  const stateDir = path.resolve(process.env.WARREN_STATE_DIR ?? path.join(repoRoot, '.warren'));
  const asked = Boolean(process.env.WARREN_RABBITMQ_VERSION || process.env.WARREN_RABBITMQ_NODES);
  const last = asked ? {} : lastStarted(stateDir);
  const prometheusPort = port('WARREN_PROMETHEUS_PORT', 9099);
  return {
    stateDir,
    rabbitmq: {
      amqpPort: port('WARREN_RABBITMQ_PORT', 5682),
      distPort: port('WARREN_RABBITMQ_DIST_PORT', 25682),
      managementPort: port('WARREN_RABBITMQ_MANAGEMENT_PORT', 15682),
      prometheusPort: port('WARREN_RABBITMQ_PROMETHEUS_PORT', 15702),
      nodeName: process.env.WARREN_RABBITMQ_NODENAME ?? 'warren@localhost',
      version: parseRabbitMqVersion(
        process.env.WARREN_RABBITMQ_VERSION || last.version,
        'WARREN_RABBITMQ_VERSION',
      ),
      nodes: count('WARREN_RABBITMQ_NODES', last.nodes ?? 1, MAX_RABBITMQ_NODES),
      nodePortStep: count('WARREN_RABBITMQ_NODE_PORT_STEP', 100, 1000),
      epmdPort: port('WARREN_RABBITMQ_EPMD_PORT', 4369),
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

/** One broker node's name and ports, derived from the configuration. */
export interface RabbitMqNodeAddress {
  index: number;
  nodeName: string;
  amqpPort: number;
  distPort: number;
  managementPort: number;
  prometheusPort: number;
}

export function rabbitMqNodeAddresses(config: InfraConfig): RabbitMqNodeAddress[] {
  const r = config.rabbitmq;
  const step = r.nodePortStep ?? 100;
  const [local, host = 'localhost'] = r.nodeName.split('@');
  return Array.from({ length: r.nodes ?? 1 }, (_, index) => ({
    index,
    nodeName: index === 0 ? r.nodeName : `${local}-${index + 1}@${host}`,
    amqpPort: r.amqpPort + index * step,
    distPort: r.distPort + index * step,
    managementPort: r.managementPort + index * step,
    prometheusPort: r.prometheusPort + index * step,
  }));
}

/** Connection URLs as environment variables, the names every Warren component reads. */
export interface ServerUrls {
  RABBITMQ_URL: string;
  RABBITMQ_MANAGEMENT_URL: string;
  RABBITMQ_PROMETHEUS_URL: string;
  DATABASE_URL: string;
  PROMETHEUS_URL: string;
  /** Every node's URLs, comma-separated, first node first (one entry for a single node). */
  RABBITMQ_URLS?: string;
  RABBITMQ_MANAGEMENT_URLS?: string;
  RABBITMQ_PROMETHEUS_URLS?: string;
  /** The broker version the project's own servers run (`3.10`, `4.0`, `4.3`). */
  RABBITMQ_VERSION?: string;
  ALERTMANAGER_URL: string;
}

export function localServerUrls(config: InfraConfig): ServerUrls {
  const nodes = rabbitMqNodeAddresses(config);
  const amqp = nodes.map((node) => `amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
  const management = nodes.map((node) => `http://guest:guest@127.0.0.1:${node.managementPort}`);
  const prometheus = nodes.map((node) => `http://127.0.0.1:${node.prometheusPort}`);
  return {
    RABBITMQ_URL: amqp[0]!,
    RABBITMQ_MANAGEMENT_URL: management[0]!,
    RABBITMQ_PROMETHEUS_URL: prometheus[0]!,
    DATABASE_URL: `postgresql://postgres@127.0.0.1:${config.postgres.port}/postgres`,
    PROMETHEUS_URL: `http://127.0.0.1:${config.prometheus.port}`,
    RABBITMQ_URLS: amqp.join(','),
    RABBITMQ_MANAGEMENT_URLS: management.join(','),
    RABBITMQ_PROMETHEUS_URLS: prometheus.join(','),
    RABBITMQ_VERSION: config.rabbitmq.version,
    ALERTMANAGER_URL: `http://127.0.0.1:${config.alertmanager.port}`,
  };
}
