import type { RootfsSpec } from './rootfs';

/**
 * The RabbitMQ versions the project runs and tests, and where each comes from: the host's own
 * Debian 12 package (3.10), or a newer Debian suite's package run from a root filesystem that
 * the project builds into its cache (4.0 from trixie, 4.3 from forky).
 */
export const RABBITMQ_VERSIONS = {
  '3.10': { debianSuite: 'bookworm', rootfs: undefined },
  '4.0': {
    debianSuite: 'trixie',
    rootfs: { suite: 'trixie', packages: ['rabbitmq-server', 'procps'] },
  },
  '4.3': {
    debianSuite: 'forky',
    // forky is Debian testing: its Release file may be past Valid-Until on a pinned mirror.
    rootfs: { suite: 'forky', packages: ['rabbitmq-server', 'procps'], ignoreValidUntil: true },
  },
} as const satisfies Record<string, { debianSuite: string; rootfs: RootfsSpec | undefined }>;

export type RabbitMqVersion = keyof typeof RABBITMQ_VERSIONS;

export const SUPPORTED_RABBITMQ_VERSIONS = Object.keys(RABBITMQ_VERSIONS) as RabbitMqVersion[];

/** What `npm run infra -- up` and `npm test` run when no version is asked for: the newest. */
export const DEFAULT_RABBITMQ_VERSION: RabbitMqVersion = '4.3';

export function parseRabbitMqVersion(raw: string | undefined, source: string): RabbitMqVersion {
  if (raw === undefined || raw === '') return DEFAULT_RABBITMQ_VERSION;
  const version = raw.trim().replace(/^v/, '');
  if (version in RABBITMQ_VERSIONS) return version as RabbitMqVersion;
  throw new Error(
    `${source}=${raw} is not a RabbitMQ version this project runs: choose ${SUPPORTED_RABBITMQ_VERSIONS.join(', ')}`,
  );
}
