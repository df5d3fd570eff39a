/**
 * The DatabaseMigration's pure parts: its input hash, the identity of the database it migrates,
 * the name and manifest of the Job that runs `prisma migrate deploy` (what a Job's status says:
 * migration-job-status.ts). No I/O: unit-tested on their own.
 */
import { createHash } from 'node:crypto';
import type { DatabaseMigration } from '@warren/crds';
import { API_VERSION, parseDuration } from '@warren/crds/core';
import type { KubeObject } from '../kube/client';
import {
  ATTEMPT_ANNOTATION,
  DATABASE_LABEL,
  INPUT_HASH_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  MIGRATION_LABEL,
  RUN_ANNOTATION,
  SERVICE_LABEL,
} from './annotations';
import { byCodePoint } from '../util/order';

/** Only the operator's own migration Jobs are watched. */
export const MIGRATION_JOB_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY},${MIGRATION_LABEL}`;

/**
 * The Prisma CLI, relative to the image's working directory. services/Dockerfile makes that
 * directory the service's folder (`/app/services/<service>`, holding prisma.config.ts and the
 * prisma/ folder) with the workspace's node_modules two levels up.
 */
export const PRISMA_CLI = '../../node_modules/prisma/build/index.js';

export const DEFAULT_SECRET_KEY = 'DATABASE_URL';
export const DEFAULT_MIGRATIONS_PATH = 'prisma';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface MigrationInput {
  image: string;
  migrationsPath: string;
  namespace: string;
  secretName: string;
  secretKey: string;
  /** The database URL read from the Secret: only its hash enters the input hash. */
  databaseUrl: string;
  /** spec.job where it differs from the defaults (see jobShape). */
  job?: string;
}

type JobSpec = DatabaseMigration['spec']['job'];
const DEFAULT_TIMEOUT = '1h';
const DEFAULT_RESOURCES = {
  requests: { cpu: '100m', memory: '192Mi' },
  limits: { cpu: '1', memory: '512Mi' },
};

/**
 * spec.job as part of the input: only what differs from the defaults, in a stable order, so a
 * migration that never set it keeps the hash it had before the field existed (and is not run
 * again by an operator upgrade). Undefined when everything is default.
 */
export function jobShape(job: Partial<JobSpec> | undefined): string | undefined {
  const shape = {
    ...(job?.timeout && job.timeout !== DEFAULT_TIMEOUT && { timeout: job.timeout }),
    ...(job?.serviceAccountName && { serviceAccountName: job.serviceAccountName }),
    ...(job?.imagePullSecrets?.length && { imagePullSecrets: [...job.imagePullSecrets].sort() }),
    ...(job?.resources?.requests && { requests: sortedKeys(job.resources.requests) }),
    ...(job?.resources?.limits && { limits: sortedKeys(job.resources.limits) }),
  };
  return Object.keys(shape).length > 0 ? JSON.stringify(shape) : undefined;
}

const sortedKeys = (record: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => byCodePoint(a, b)));

/** What the migration runs with. A change of any part (a new URL included) runs it again. */
export function inputHash(input: MigrationInput): string {
  return sha256(
    JSON.stringify([
      input.image,
      input.migrationsPath,
      `${input.namespace}/${input.secretName}/${input.secretKey}`,
      sha256(input.databaseUrl),
      ...(input.job ? [input.job] : []),
    ]),
  ).slice(0, 40);
}

export function migrationInputOf(
  migration: DatabaseMigration,
  databaseUrl: string,
): MigrationInput {
  const ref = migration.spec.database.secretRef;
  return {
    image: migration.spec.image,
    migrationsPath: migration.spec.migrationsPath ?? DEFAULT_MIGRATIONS_PATH,
    namespace: migration.metadata.namespace ?? 'default',
    secretName: ref.name,
    secretKey: ref.key ?? DEFAULT_SECRET_KEY,
    databaseUrl,
    job: jobShape(migration.spec.job),
  };
}

/** URL parameters Prisma reads that node-postgres does not know. */
const PRISMA_ONLY_PARAMS = [
  'schema',
  'connection_limit',
  'pool_timeout',
  'pgbouncer',
  'statement_cache_size',
  'socket_timeout',
  'sslaccept',
];

/**
 * Which database a URL names: host, port, database and Prisma schema, without credentials or
 * options. Two DatabaseMigrations whose URLs agree on these (whatever Secret, user or password
 * they use) migrate the same `_prisma_migrations` table, so they never run at the same time.
 * A URL that cannot be parsed falls back to the Secret reference.
 */
export function databaseIdentity(url: string, fallback: string): string {
  try {
    const parsed = new URL(url);
    if (!/^postgres(ql)?:$/.test(parsed.protocol)) throw new Error('not a PostgreSQL URL');
    const host = (parsed.searchParams.get('host') ?? parsed.hostname).toLowerCase();
    const port = parsed.port || '5432';
    const database =
      decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username);
    const schema = parsed.searchParams.get('schema') ?? 'public';
    return `postgresql://${host}:${port}/${database}?schema=${schema}`;
  } catch {
    return `secret:${fallback}`;
  }
}

/** A label value for a database identity. */
export const databaseLabel = (identity: string) => sha256(identity).slice(0, 40);

/** The URL node-postgres connects with, and the schema holding `_prisma_migrations`. */
export function connectionOf(url: string): { connectionString: string; schema: string } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? 'public';
  for (const param of PRISMA_ONLY_PARAMS) parsed.searchParams.delete(param);
  return { connectionString: parsed.toString(), schema };
}

/**
 * The Job of run `run`: `<migration>-<input hash prefix>-<run>`, at most 63 characters (the
 * `job-name` label of its pods). Run numbers only grow, so a name is never used twice.
 */
export function migrationJobName(name: string, hash: string, run: number): string {
  const suffix = `-${hash.slice(0, 8)}-${run}`;
  const room = 63 - suffix.length;
  const prefix =
    name.length <= room
      ? name
      : `${name.slice(0, room - 9).replace(/[-.]+$/, '')}-${sha256(name).slice(0, 8)}`;
  return `${prefix}${suffix}`;
}

/** Run number and input hash prefix of a Job name the operator made. */
export function parseJobName(
  jobName: string | undefined,
): { hash8: string; run: number } | undefined {
  const match = /-([0-9a-f]{8})-(\d+)$/.exec(jobName ?? '');
  return match ? { hash8: match[1]!, run: Number(match[2]) } : undefined;
}

export interface JobSettings {
  /** Finished Jobs are deleted by Kubernetes after this long (the operator also keeps only a few). */
  ttlSecondsAfterFinished: number;
}

export const DEFAULT_JOB_SETTINGS: JobSettings = { ttlSecondsAfterFinished: 24 * 3600 };

export interface JobManifest extends KubeObject {
  apiVersion: 'batch/v1';
  kind: 'Job';
  spec: Record<string, unknown>;
}

/**
 * The Job that runs `prisma migrate deploy --schema <migrationsPath>` in the service's image.
 * The URL reaches the container only through a secretKeyRef; the Job runs once
 * (backoffLimit 0): the operator counts failures against spec.backoffLimit and runs a new Job.
 */
export function migrationJob(
  migration: DatabaseMigration,
  run: { name: string; run: number; attempt: number; hash: string; database: string },
  settings: JobSettings = DEFAULT_JOB_SETTINGS,
): JobManifest {
  const namespace = migration.metadata.namespace ?? 'default';
  const ref = migration.spec.database.secretRef;
  const shape: Partial<JobSpec> = migration.spec.job ?? {};
  const labels = {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [MIGRATION_LABEL]: migration.metadata.name,
    [SERVICE_LABEL]: migration.spec.service,
    [INPUT_HASH_LABEL]: run.hash.slice(0, 40),
    [DATABASE_LABEL]: run.database,
    'app.kubernetes.io/component': 'database-migration',
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: run.name,
      namespace,
      labels,
      annotations: {
        [RUN_ANNOTATION]: String(run.run),
        [ATTEMPT_ANNOTATION]: String(run.attempt),
      },
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: 'DatabaseMigration',
          name: migration.metadata.name,
          uid: migration.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: settings.ttlSecondsAfterFinished,
      activeDeadlineSeconds: Math.ceil(parseDuration(shape.timeout ?? DEFAULT_TIMEOUT) / 1000),
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...(shape.serviceAccountName && { serviceAccountName: shape.serviceAccountName }),
          ...(shape.imagePullSecrets?.length && {
            imagePullSecrets: shape.imagePullSecrets.map((name) => ({ name })),
          }),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            // The image's user is `node` (uid 1000); a numeric id lets the kubelet verify it.
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'migrate',
              image: migration.spec.image,
              command: [
                'node',
                PRISMA_CLI,
                'migrate',
                'deploy',
                '--schema',
                migration.spec.migrationsPath ?? DEFAULT_MIGRATIONS_PATH,
              ],
              env: [
                {
                  name: 'DATABASE_URL',
                  valueFrom: {
                    secretKeyRef: { name: ref.name, key: ref.key ?? DEFAULT_SECRET_KEY },
                  },
                },
                // No update check, no telemetry: clusters are often air-gapped.
                { name: 'CHECKPOINT_DISABLE', value: '1' },
                { name: 'PRISMA_HIDE_UPDATE_MESSAGE', value: '1' },
                // The root filesystem is read-only: caches (Prisma's config loader) go to /tmp.
                { name: 'HOME', value: '/tmp' },
                { name: 'TMPDIR', value: '/tmp' },
              ],
              resources: {
                requests: { ...DEFAULT_RESOURCES.requests, ...shape.resources?.requests },
                limits: { ...DEFAULT_RESOURCES.limits, ...shape.resources?.limits },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
              },
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}
