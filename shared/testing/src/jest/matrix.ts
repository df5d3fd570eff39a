/**
 * The broker matrix of `npm test` (scripts/test-matrix.ts): which suites run on which RabbitMQ.
 * Every suite runs on the default broker; the suites that talk to a broker run again on the
 * other versions and on a three-node cluster. Listed in the README's "Supported brokers".
 */
import { DEFAULT_RABBITMQ_VERSION, SUPPORTED_RABBITMQ_VERSIONS } from '../infra/rabbitmq-versions';

export interface MatrixLeg {
  name: string;
  description: string;
  /** Added to the environment of the leg's Jest run (the broker's version and size). */
  env: Record<string, string>;
  /** Jest arguments: the suites of the leg (none: every suite). */
  jestArgs: string[];
}

/**
 * Suites whose guarantees depend on the broker: run on every version (paths as regexes). The
 * broker-outage suite (1-5 min) runs on the default version only.
 */
export const BROKER_SUITES = [
  'operator/test/broker-version-probe\\.test\\.ts',
  'operator/test/(retry-semantics|dead-letters|cli-broker)\\.test\\.ts',
  'shared/messaging/test/(consumer|failure|batching|engine-topology|nest|broker-retry)\\.test\\.ts',
];

/** On the cluster: the faults it exists for, and delivery/retry/dead-letter semantics. */
export const CLUSTER_SUITES = [
  'operator/test/broker-version-probe\\.test\\.ts',
  'operator/test/(retry-semantics|dead-letters)\\.test\\.ts',
  'shared/messaging/test/(consumer|failure)\\.test\\.ts',
  'shared/messaging/test/cluster-faults\\.test\\.ts',
  'operator/test/cluster-reconcile\\.test\\.ts',
];

const broker = (version: string, nodes = 1) => ({
  WARREN_RABBITMQ_VERSION: version,
  WARREN_RABBITMQ_NODES: String(nodes),
});

export const MATRIX_LEGS: MatrixLeg[] = [
  {
    name: DEFAULT_RABBITMQ_VERSION,
    description: `every suite on RabbitMQ ${DEFAULT_RABBITMQ_VERSION} (the default)`,
    env: broker(DEFAULT_RABBITMQ_VERSION),
    // Every suite of both Jest projects (an ignore pattern given here would replace the
    // projects' own); the cluster fault suite skips itself on one node.
    jestArgs: [],
  },
  ...SUPPORTED_RABBITMQ_VERSIONS.filter((v) => v !== DEFAULT_RABBITMQ_VERSION).map((version) => ({
    name: version,
    description: `the broker-facing suites on RabbitMQ ${version}`,
    env: broker(version),
    jestArgs: BROKER_SUITES.map((pattern) => `--testPathPatterns=${pattern}`),
  })),
  {
    name: 'cluster',
    description: `the cluster faults and the delivery suites on a 3-node RabbitMQ ${DEFAULT_RABBITMQ_VERSION} cluster`,
    env: broker(DEFAULT_RABBITMQ_VERSION, 3),
    jestArgs: CLUSTER_SUITES.map((pattern) => `--testPathPatterns=${pattern}`),
  },
];
