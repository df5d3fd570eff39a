/**
 * The DatabaseMigration controller: runs a service's `prisma migrate deploy` as a Kubernetes Job
 * whenever its input (image, migrations path, database) changes, one Job at a time per
 * database, counts failures against spec.backoffLimit with backoff between runs, and reports
 * what `_prisma_migrations` says was applied. Level-based, one work-queue key per migration.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { DatabaseMigration, DatabaseMigrationStatus } from '@warren/crds';
import { API_VERSION } from '@warren/crds/core';
import type { KubeClient, KubeObject } from '../kube/client';
import { KubeApiError } from '../kube/client';
import type { EventRecorder } from '../kube/events';
import { Informer, objectKey } from '../kube/informer';
import { eventsFor, patchStatus, statusChanged, unlessGone } from '../kube/status';
import { WatchedCollection } from '../kube/watched';
import type { Logger } from '../observability/log';
import type { OperatorMetrics } from '../observability/metrics';
import { DATABASE_LABEL, MIGRATION_LABEL } from './annotations';
import {
  describeDatabaseError,
  readAppliedMigrations,
  type AppliedMigration,
} from './migration-database';
import {
  DEFAULT_JOB_SETTINGS,
  DEFAULT_SECRET_KEY,
  MIGRATION_JOB_SELECTOR,
  databaseIdentity,
  databaseLabel,
  inputHash,
  migrationInputOf,
  migrationJob,
  type JobSettings,
} from './migration-job';
import {
  jobDurationSeconds,
  jobsToDelete,
  summarizeJob,
  type JobObject,
  type JobSummary,
} from './migration-job-status';
import { FailedJobOutput } from './migration-pod-output';
import {
  MIGRATION_EVENTS,
  MIGRATION_REASONS,
  decideMigration,
  type MigrationDecision,
  type MigrationObservation,
} from './migration-status';
import { backoffDelayMs } from '../util/backoff';
import { collectionPath, corePath, objectPath } from './resources';

export interface MigrationControllerOptions {
  client: KubeClient;
  /** Namespaces to watch; empty = all. */
  namespaces: string[];
  resyncMs: number;
  /** Delay before the second attempt after a failed run; doubled per failure, at most 5 minutes. */
  retryBaseMs: number;
  jobSettings?: JobSettings;
  metrics: OperatorMetrics;
  events: EventRecorder;
  log: Logger;
  /** Read `_prisma_migrations` with the migration's Secret (default true). */
  readDatabase?: boolean;
}

type Migration = DatabaseMigration & KubeObject;
type SecretObject = V1Secret & KubeObject;

const MIGRATION = { apiVersion: API_VERSION, kind: 'DatabaseMigration' } as const;
/** How long a created Job may stay unseen by the cache before the claim on its database lapses. */
const PENDING_TTL_MS = 60_000;
const MAX_RETRY_DELAY_MS = 5 * 60_000;

const jobsPath = (namespace?: string) =>
  namespace ? `/apis/batch/v1/namespaces/${namespace}/jobs` : '/apis/batch/v1/jobs';

export class MigrationController {
  private readonly migrations: WatchedCollection<Migration>;
  private readonly jobs: WatchedCollection<JobObject>;
  /** Jobs this process created that the cache may not show yet, by migration key. */
  private readonly pending = new Map<
    string,
    { name: string; run: number; database: string; at: number }
  >();
  /** Migrations waiting for a database, by database label: enqueued when its Job finishes. */
  private readonly waiting = new Map<string, Set<string>>();
  /** When `_prisma_migrations` was last read per migration, and what went wrong. */
  private readonly lastRead = new Map<string, { at: number; error?: string }>();
  /** Inputs whose Job the API server refused, by migration key: not tried again before a resync. */
  private readonly rejected = new Map<string, { hash: string; message: string; at: number }>();
  /** What a failed Job's pod said, by Job: read once, since a finished pod does not change. */
  private readonly failureDetails: FailedJobOutput;
  private synced = false;
  private readonly event: ReturnType<typeof eventsFor>;

  constructor(
    private readonly options: MigrationControllerOptions,
    private readonly enqueue: (key: string) => void,
  ) {
    this.failureDetails = new FailedJobOutput(options.client, options.log);
    this.event = eventsFor(options.events, MIGRATION, (error) =>
      options.log.warn({ err: String(error) }, 'event not recorded'),
    );
    const scopes = options.namespaces.length > 0 ? options.namespaces : [undefined];
    const relistIntervalMs = Math.max(options.resyncMs * 5, 300_000);
    const onError = (path: string) => (error: unknown) =>
      options.log.warn({ err: String(error), path }, 'watch failed; retrying');
    this.migrations = new WatchedCollection(
      scopes.map((ns) => collectionPath('databasemigrations', ns)),
      (path) =>
        new Informer<Migration>({
          client: options.client,
          path,
          relistIntervalMs,
          onEvent: (type, migration) => {
            const key = objectKey(migration);
            if (type === 'deleted') this.forget(key);
            enqueue(key);
          },
          onError: onError(path),
        }),
    );
    // Only the operator's own migration Jobs, never every Job of the cluster.
    this.jobs = new WatchedCollection(
      scopes.map((ns) => jobsPath(ns)),
      (path) =>
        new Informer<JobObject>({
          client: options.client,
          path,
          labelSelector: MIGRATION_JOB_SELECTOR,
          relistIntervalMs,
          onEvent: (type, job) => this.onJobEvent(type, job),
          onError: onError(path),
        }),
    );
  }

  get isSynced(): boolean {
    return this.synced;
  }

  async start(): Promise<void> {
    await Promise.all([this.migrations.start(), this.jobs.start()]);
    this.synced = true;
  }

  stop(): void {
    this.migrations.stop();
    this.jobs.stop();
  }

  /** Every migration's key: what a new leader starts with. */
  keys(): string[] {
    return this.migrations.list().map(objectKey);
  }

  private onJobEvent(type: string, job: JobObject) {
    if (type === 'deleted') this.failureDetails.forget(summarizeJob(job));
    const migration = job.metadata.labels?.[MIGRATION_LABEL];
    if (migration) this.enqueue(`${job.metadata.namespace}/${migration}`);
    const database = job.metadata.labels?.[DATABASE_LABEL];
    if (database && (type === 'deleted' || summarizeJob(job).phase !== 'active')) {
      for (const waiter of this.waiting.get(database) ?? []) this.enqueue(waiter);
    }
  }

  private forget(key: string) {
    this.pending.delete(key);
    this.rejected.delete(key);
    this.lastRead.delete(key);
    for (const waiters of this.waiting.values()) waiters.delete(key);
  }

  private retryDelay(failures: number): number {
    return backoffDelayMs(failures, this.options.retryBaseMs, MAX_RETRY_DELAY_MS);
  }

  /** Another migration's running (or just created) Job on this database. */
  private holderOf(database: string, self: string): { migration: string; job: string } | undefined {
    for (const job of this.jobs.list().map(summarizeJob)) {
      const owner = `${job.namespace}/${job.migration}`;
      if (job.database === database && job.phase === 'active' && owner !== self)
        return { migration: owner, job: job.name };
    }
    const now = Date.now();
    for (const [owner, pending] of this.pending) {
      if (owner !== self && pending.database === database && now - pending.at < PENDING_TTL_MS)
        return { migration: owner, job: pending.name };
    }
    return undefined;
  }

  private pendingFor(key: string, jobs: JobSummary[]) {
    const pending = this.pending.get(key);
    if (!pending) return undefined;
    if (jobs.some((job) => job.name === pending.name) || Date.now() - pending.at > PENDING_TTL_MS) {
      this.pending.delete(key);
      return undefined;
    }
    return pending;
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const { client, log, metrics } = this.options;
    const found = this.migrations.get(key);
    if (!found || found.metadata.deletionTimestamp) {
      this.forget(key);
      return {};
    }
    const namespace = found.metadata.namespace ?? 'default';
    const ref = found.spec.database.secretRef;
    const secretKey = ref.key ?? DEFAULT_SECRET_KEY;
    // A direct GET: the operator never caches the cluster's Secrets.
    const secret = await client.find<SecretObject>(corePath(namespace, 'secrets', ref.name));
    const encoded = secret?.data?.[secretKey];
    const url = encoded ? Buffer.from(encoded, 'base64').toString('utf8') : undefined;

    await this.failureDetails.read(this.jobsOf(found));

    // From here to the Job's creation nothing awaits: the database check and its claim are atomic.
    const migration = this.migrations.get(key) ?? found;
    const input: MigrationObservation['input'] = !secret
      ? { problem: `Secret ${namespace}/${ref.name} not found (spec.database.secretRef.name)` }
      : !url
        ? {
            problem: `Secret ${namespace}/${ref.name} has no key ${secretKey} (spec.database.secretRef.key)`,
          }
        : {
            hash: inputHash(migrationInputOf(migration, url)),
            database: databaseLabel(databaseIdentity(url, `${namespace}/${ref.name}/${secretKey}`)),
          };
    const jobs = this.jobsOf(migration).map((job) => this.failureDetails.withDetail(job));
    const rejection = this.rejected.get(key);
    const observation: MigrationObservation = {
      migration,
      input,
      jobs,
      rejected:
        rejection &&
        'hash' in input &&
        rejection.hash === input.hash &&
        Date.now() - rejection.at < this.options.resyncMs
          ? rejection.message
          : undefined,
      pending: this.pendingFor(key, jobs),
      holder: 'hash' in input ? this.holderOf(input.database, key) : undefined,
      now: new Date(),
      backoffMs: (failures) => this.retryDelay(failures),
    };
    let decision = decideMigration(observation);

    if (decision.create && 'hash' in input) {
      this.pending.set(key, { ...decision.create, database: input.database, at: Date.now() });
      const refused = await this.createJob(migration, decision.create, input).catch(
        (error: unknown) => {
          this.pending.delete(key);
          throw error;
        },
      );
      if (refused) {
        this.pending.delete(key);
        this.rejected.set(key, { hash: input.hash, message: refused, at: Date.now() });
        log.warn({ migration: key, err: refused }, 'migration Job refused by the API server');
        decision = decideMigration({ ...observation, rejected: refused });
      } else {
        this.rejected.delete(key);
        metrics.migrationJobsCreated.inc();
        log.info({ migration: key, job: decision.create.name }, 'migration Job created');
        // Recorded now: a status write that fails below would not bring this one back.
        for (const event of decision.events.filter((e) => e.reason === MIGRATION_EVENTS.jobCreated))
          await this.event(migration, event);
      }
    }

    // What the database says, once the input is applied (after a run, then once per resync).
    let appliedMigrations = migration.status?.appliedMigrations;
    if (decision.state === MIGRATION_REASONS.succeeded && url) {
      const read = await this.readDatabase(key, url, decision);
      if (read.migrations) appliedMigrations = read.migrations;
      decision = decideMigration({
        ...observation,
        applied: read.error
          ? { error: read.error }
          : appliedMigrations && { migrations: appliedMigrations },
      });
    }

    const next = {
      ...decision.status,
      ...(appliedMigrations !== undefined && { appliedMigrations }),
    };
    if (statusChanged(migration.status, next)) {
      await this.writeStatus(migration, next);
    }
    for (const event of decision.events.filter((e) => e.reason !== MIGRATION_EVENTS.jobCreated))
      await this.event(migration, event);
    if (decision.finished) {
      const { job, result } = decision.finished;
      metrics.migrationRuns.inc({ result });
      const duration = jobDurationSeconds(job);
      if (duration !== undefined) metrics.migrationDuration.observe({ result }, duration);
      log.info({ migration: key, job: job.name, result }, 'migration Job finished');
    }

    for (const waiters of this.waiting.values()) waiters.delete(key);
    if (decision.state === MIGRATION_REASONS.waitingForDatabase && 'hash' in input) {
      const waiters = this.waiting.get(input.database) ?? new Set<string>();
      waiters.add(key);
      this.waiting.set(input.database, waiters);
    }
    await this.deleteOldJobs(jobs, decision.status.lastJobName);
    return { requeueAfterMs: decision.requeueAfterMs ?? this.options.resyncMs };
  }

  /** The cached Jobs of a migration (of this very object, when they name their owner). */
  private jobsOf(migration: Migration): JobSummary[] {
    const namespace = migration.metadata.namespace ?? 'default';
    return this.jobs
      .list()
      .map(summarizeJob)
      .filter(
        (job) =>
          job.namespace === namespace &&
          job.migration === migration.metadata.name &&
          (job.ownerUid === undefined || job.ownerUid === migration.metadata.uid),
      );
  }

  private async readDatabase(
    key: string,
    url: string,
    decision: MigrationDecision,
  ): Promise<{ migrations?: AppliedMigration[]; error?: string }> {
    if (this.options.readDatabase === false) return {};
    const last = this.lastRead.get(key);
    const due =
      decision.finished !== undefined || !last || Date.now() - last.at >= this.options.resyncMs;
    if (!due) return { error: last?.error };
    try {
      const migrations = await readAppliedMigrations(url);
      this.lastRead.set(key, { at: Date.now() });
      return { migrations };
    } catch (error) {
      const message = describeDatabaseError(error);
      this.lastRead.set(key, { at: Date.now(), error: message });
      this.options.log.warn({ migration: key, err: message }, 'cannot read _prisma_migrations');
      return { error: message };
    }
  }

  /** Creates the run's Job; answers why the API server refused it, if it did. */
  private async createJob(
    migration: Migration,
    run: { name: string; run: number; attempt: number },
    input: { hash: string; database: string },
  ): Promise<string | undefined> {
    const job = migrationJob(
      migration,
      { ...run, hash: input.hash, database: input.database },
      this.options.jobSettings ?? DEFAULT_JOB_SETTINGS,
    );
    try {
      await this.options.client.create(jobsPath(migration.metadata.namespace ?? 'default'), job);
    } catch (error) {
      if (!(error instanceof KubeApiError)) throw error;
      // Names are never reused for a migration: an existing Job is this very run.
      if (error.status === 409) return undefined;
      // Invalid (spec.job), forbidden (quota, admission policy, RBAC): the user must act.
      if ([400, 403, 422].includes(error.status)) return error.message;
      throw error;
    }
    return undefined;
  }

  /** Finished Jobs beyond the newest few go (with their pods); the TTL covers the rest. */
  private async deleteOldJobs(jobs: JobSummary[], lastJobName: string | undefined) {
    for (const job of jobsToDelete(jobs, lastJobName)) {
      await unlessGone(
        this.options.client.request('DELETE', `${jobsPath(job.namespace)}/${job.name}`, {
          query: { propagationPolicy: 'Background' },
        }),
      ).catch((error: unknown) =>
        this.options.log.warn({ err: String(error), job: job.name }, 'old Job not deleted'),
      );
    }
  }

  /** Merge patch guarded by resourceVersion: a stale view gets 409 and the key is retried. */
  private writeStatus(migration: Migration, status: DatabaseMigrationStatus) {
    const path = objectPath(
      'databasemigrations',
      migration.metadata.namespace ?? 'default',
      migration.metadata.name,
    );
    return patchStatus(this.options.client, path, status, migration.metadata.resourceVersion);
  }
}
