/**
 * The DatabaseMigration's pure parts: its input hash, the identity of the database it migrates,
 * the name and manifest of the Job that runs `prisma migrate deploy`, and what a Job's status
 * says. No I/O: unit-tested on their own.
 */
import { createHash } from 'node:crypto';
import { API_VERSION, parseDuration, type DatabaseMigration } from '@warren/crds';
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
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));

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

export interface JobObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: {
    conditions?: {
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string;
    }[];
    startTime?: string;
    completionTime?: string;
    active?: number;
    succeeded?: number;
    failed?: number;
  };
}

export type JobPhase = 'active' | 'succeeded' | 'failed';

/** What the operator needs to know of one of its Jobs. */
export interface JobSummary {
  name: string;
  namespace: string;
  migration: string;
  ownerUid?: string;
  inputHash: string;
  database: string;
  run: number;
  attempt: number;
  phase: JobPhase;
  createdAt?: string;
  startedAt?: string;
  finishedAt?: string;
  /** Why a failed Job failed, as its conditions say. */
  message?: string;
}

const isTrueCondition = (job: JobObject, type: string) =>
  job.status?.conditions?.find((c) => c.type === type && c.status === 'True');

/** A Job is finished once Complete or Failed is True; until then (FailureTarget included) it may still run. */
export function summarizeJob(job: JobObject): JobSummary {
  const labels = job.metadata.labels ?? {};
  const annotations = job.metadata.annotations ?? {};
  const complete = isTrueCondition(job, 'Complete');
  const failed = isTrueCondition(job, 'Failed');
  const owner = (
    job.metadata.ownerReferences as { kind?: string; uid?: string }[] | undefined
  )?.find((ref) => ref.kind === 'DatabaseMigration');
  return {
    name: job.metadata.name,
    namespace: job.metadata.namespace ?? 'default',
    migration: labels[MIGRATION_LABEL] ?? '',
    ownerUid: owner?.uid,
    inputHash: labels[INPUT_HASH_LABEL] ?? '',
    database: labels[DATABASE_LABEL] ?? '',
    run: Number(annotations[RUN_ANNOTATION] ?? parseJobName(job.metadata.name)?.run ?? 0),
    attempt: Number(annotations[ATTEMPT_ANNOTATION] ?? 1),
    phase: complete ? 'succeeded' : failed ? 'failed' : 'active',
    createdAt: job.metadata.creationTimestamp,
    startedAt: job.status?.startTime,
    finishedAt: complete
      ? (job.status?.completionTime ?? complete.lastTransitionTime)
      : failed?.lastTransitionTime,
    message: failed
      ? [failed.reason, failed.message].filter(Boolean).join(': ') || 'the Job failed'
      : undefined,
  };
}

/** Seconds from start to finish of a finished Job, when its status says. */
export function jobDurationSeconds(job: JobSummary): number | undefined {
  const start = Date.parse(job.startedAt ?? job.createdAt ?? '');
  const end = Date.parse(job.finishedAt ?? '');
  return Number.isFinite(start) && Number.isFinite(end) && end >= start
    ? (end - start) / 1000
    : undefined;
}

/** Finished Jobs beyond the newest `keep` (by run), never the last one: deleted by the operator. */
export function jobsToDelete(
  jobs: JobSummary[],
  lastJobName: string | undefined,
  keep = 3,
): JobSummary[] {
  const finished = jobs
    .filter((job) => job.phase !== 'active' && job.name !== lastJobName)
    .sort((a, b) => b.run - a.run);
  return finished.slice(Math.max(0, keep - 1));
}

/** The container of a migration Job's pod, as far as the operator reads it. */
export interface PodObject extends KubeObject {
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    containerStatuses?: {
      name: string;
      state?: { terminated?: { exitCode?: number; reason?: string; message?: string } };
    }[];
  };
}

/** At most this much of a pod's termination message (the end of Prisma's output) reaches the status. */
export const FAILURE_DETAIL_MAX_CHARS = 600;

/**
 * Why a failed Job's pod failed: the `migrate` container's exit code and the end of its termination
 * message (its output: the Job sets terminationMessagePolicy FallbackToLogsOnError), so the
 * condition says what Prisma said. Credentials in a URL are masked; undefined when no pod tells.
 */
export function podFailureDetail(pods: PodObject[]): string | undefined {
  for (const pod of pods) {
    const terminated = pod.status?.containerStatuses?.find((c) => c.name === 'migrate')?.state
      ?.terminated;
    if (terminated && terminated.exitCode !== 0) {
      const text = (terminated.message ?? '')
        .replace(/(\w+:\/\/[^\s:@/]+):[^\s@/]*@/g, '$1:***@')
        .replace(/\s+/g, ' ')
        .trim();
      const tail =
        text.length > FAILURE_DETAIL_MAX_CHARS
          ? `…${text.slice(-(FAILURE_DETAIL_MAX_CHARS - 1))}`
          : text;
      const exit = `container migrate exited ${terminated.exitCode ?? '?'}${terminated.reason ? ` (${terminated.reason})` : ''}`;
      return tail ? `${exit}: ${tail}` : exit;
    }
    if (pod.status?.phase === 'Failed' && (pod.status.reason || pod.status.message)) {
      return [pod.status.reason, pod.status.message].filter(Boolean).join(': ');
    }
  }
  return undefined;
}
