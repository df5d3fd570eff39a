/**
 * What one reconcile of a DatabaseMigration decides, from what it found (its status, its Jobs,
 * the Secret, the other migrations of the same database): the result of the last Job to
 * record, whether to run a new Job, and the status and Events to write. Pure.
 */
import type { DatabaseMigration, DatabaseMigrationStatus } from '@warren/crds';
import { setConditions, type Condition, type ConditionInput } from '../kube/conditions';
import type { JobSummary } from './migration-job-status';
import { migrationJobName, parseJobName } from './migration-job';

/** Every reason a DatabaseMigration condition can carry (documented in the README). */
export const MIGRATION_REASONS = {
  succeeded: 'Succeeded',
  jobRunning: 'JobRunning',
  jobFailed: 'JobFailed',
  backoffLimitExceeded: 'BackoffLimitExceeded',
  secretNotFound: 'SecretNotFound',
  waitingForDatabase: 'WaitingForDatabase',
  jobRejected: 'JobRejected',
} as const;

/** Events of one run; the steady states of ANNOUNCED_STATES are Events named after the state. */
export const MIGRATION_EVENTS = {
  jobCreated: 'JobCreated',
  succeeded: 'Succeeded',
  jobFailed: 'JobFailed',
} as const;

export interface MigrationObservation {
  migration: DatabaseMigration;
  /** The current input, or why there is none (the Secret or its key is missing). */
  input: { hash: string; database: string } | { problem: string };
  /** Jobs owned by this migration (from the cache). */
  jobs: JobSummary[];
  /** A Job created by this process that the cache does not show yet. */
  pending?: { name: string; run: number };
  /** Another migration running a Job against the same database. */
  holder?: { migration: string; job: string };
  now: Date;
  /** Delay before attempt n+1 after n consecutive failures. */
  backoffMs: (failures: number) => number;
  /** Why the API server refused to create this input's Job (invalid spec.job, quota, policy). */
  rejected?: string;
  /** What the operator read from `_prisma_migrations`, once the input is applied. */
  applied?: { migrations: { name: string }[] } | { error: string };
}

export interface MigrationEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface MigrationDecision {
  /** Run a new Job with this name, run number and attempt (for the same input). */
  create?: { name: string; run: number; attempt: number };
  /** The status fields to write (appliedMigrations is the controller's). */
  status: Omit<DatabaseMigrationStatus, 'appliedMigrations'>;
  /** The Ready reason: the state the migration is in. */
  state: (typeof MIGRATION_REASONS)[keyof typeof MIGRATION_REASONS];
  /** A Job whose result this reconcile records (once). */
  finished?: { job: JobSummary; result: 'succeeded' | 'failed' };
  events: MigrationEvent[];
  /** Reconcile again after this long even if nothing changes (backoff, Secret polling). */
  requeueAfterMs?: number;
}

/** States announced by an Event (named after the state) when a migration enters them. */
const ANNOUNCED_STATES: Partial<Record<MigrationDecision['state'], MigrationEvent['type']>> = {
  [MIGRATION_REASONS.secretNotFound]: 'Warning',
  [MIGRATION_REASONS.waitingForDatabase]: 'Normal',
  [MIGRATION_REASONS.jobRejected]: 'Warning',
  [MIGRATION_REASONS.backoffLimitExceeded]: 'Warning',
};

const seconds = (ms: number) => `${Math.ceil(ms / 1000)}s`;

export function decideMigration(observation: MigrationObservation): MigrationDecision {
  const { migration, jobs, now } = observation;
  const previous = migration.status ?? {};
  const backoffLimit = migration.spec.backoffLimit ?? 3;
  const allowed = backoffLimit + 1;
  const events: MigrationEvent[] = [];
  let applied = previous.inputHash;
  let failures = previous.failures ?? 0;
  let lastJobName = previous.lastJobName;

  // A Job newer than the one the status names (a status write was lost): adopt it.
  const newest = [...jobs].sort((a, b) => b.run - a.run)[0];
  const lastRun = Math.max(
    parseJobName(lastJobName)?.run ?? 0,
    observation.pending?.run ?? 0,
    newest?.run ?? 0,
  );
  const failuresFor = (hash8: string | undefined) =>
    hash8 !== undefined && parseJobName(previous.lastJobName)?.hash8 === hash8 ? failures : 0;
  if (newest && newest.run > (parseJobName(lastJobName)?.run ?? 0)) {
    failures = failuresFor(newest.inputHash.slice(0, 8));
    lastJobName = newest.name;
  }

  const result = (
    state: MigrationDecision['state'],
    conditions: ConditionInput[] | Omit<ConditionInput, 'observedGeneration'>[],
    extra: Partial<MigrationDecision> = {},
  ): MigrationDecision => {
    const readyBefore = previous.conditions?.find((c) => c.type === 'Ready');
    const next = setConditions(
      previous.conditions as Condition[] | undefined,
      conditions,
      migration.metadata.generation,
      now,
    );
    // Steady states are announced once, when the migration enters them.
    const announced = ANNOUNCED_STATES[state];
    if (announced && readyBefore?.reason !== state)
      events.push({ type: announced, reason: state, message: conditions[0]!.message });
    return {
      state,
      status: {
        observedGeneration: migration.metadata.generation,
        conditions: next,
        ...(applied !== undefined && { inputHash: applied }),
        ...(lastJobName !== undefined && { lastJobName }),
        failures,
      },
      events,
      ...extra,
    };
  };
  const c = (
    type: string,
    status: 'True' | 'False',
    reason: string,
    message: string,
  ): Omit<ConditionInput, 'observedGeneration'> => ({ type, status, reason, message });

  const running = (name: string, attempt: number) => {
    const message = `Job ${name} is running prisma migrate deploy (attempt ${attempt} of ${allowed})`;
    return result(MIGRATION_REASONS.jobRunning, [
      c('Ready', 'False', MIGRATION_REASONS.jobRunning, message),
      c('Reconciling', 'True', MIGRATION_REASONS.jobRunning, message),
      c('Degraded', 'False', MIGRATION_REASONS.jobRunning, ''),
      c('Stalled', 'False', MIGRATION_REASONS.jobRunning, ''),
    ]);
  };

  // 1. A Job of this migration still runs: wait for it (whatever input it runs).
  const active = jobs.filter((job) => job.phase === 'active').sort((a, b) => b.run - a.run)[0];
  if (active) return running(active.name, active.attempt);
  if (observation.pending && observation.pending.run >= lastRun) {
    return running(observation.pending.name, failures + 1);
  }

  // 2. Record the result of the last Job, once.
  const last = jobs.find((job) => job.name === lastJobName);
  let finished: MigrationDecision['finished'];
  if (last?.phase === 'succeeded' && !(applied === last.inputHash && failures === 0)) {
    applied = last.inputHash;
    failures = 0;
    finished = { job: last, result: 'succeeded' };
    events.push({
      type: 'Normal',
      reason: MIGRATION_EVENTS.succeeded,
      message: `Job ${last.name} applied the migrations (image ${migration.spec.image})`,
    });
  } else if (last?.phase === 'failed' && failures < last.attempt) {
    failures = last.attempt;
    finished = { job: last, result: 'failed' };
    const retry =
      failures < allowed
        ? `attempt ${failures + 1} of ${allowed} in ${seconds(observation.backoffMs(failures))}`
        : `no attempts left (spec.backoffLimit ${backoffLimit})`;
    events.push({
      type: 'Warning',
      reason: MIGRATION_EVENTS.jobFailed,
      message: `Job ${last.name} failed (attempt ${failures} of ${allowed}): ${last.message}; ${retry}`,
    });
  }
  const extra = { finished };
  /** A state only the user can end: Stalled, and Degraded when something failed. */
  const stalled = (
    state: MigrationDecision['state'],
    message: string,
    reconciling: string,
    degraded: boolean,
  ) =>
    result(
      state,
      [
        c('Ready', 'False', state, message),
        c('Reconciling', 'False', state, reconciling),
        c('Degraded', degraded ? 'True' : 'False', state, degraded ? message : ''),
        c('Stalled', 'True', state, message),
      ],
      extra,
    );

  // 3. Without the Secret there is no input to run.
  if ('problem' in observation.input) {
    const { problem } = observation.input;
    return stalled(MIGRATION_REASONS.secretNotFound, problem, 'waiting for the Secret', false);
  }
  const { hash } = observation.input;

  // 4. This input is applied: nothing to run.
  if (applied === hash) {
    const by = lastJobName ? ` by Job ${lastJobName}` : '';
    const read = observation.applied;
    const latest = read && 'migrations' in read ? read.migrations.at(-1)?.name : undefined;
    const message = !read
      ? `migrations applied${by}`
      : 'error' in read
        ? `migrations applied${by}; the operator could not read _prisma_migrations: ${read.error}`
        : `${read.migrations.length} migrations applied${latest ? ` (latest ${latest})` : ''}${by}`;
    return result(
      MIGRATION_REASONS.succeeded,
      [
        c('Ready', 'True', MIGRATION_REASONS.succeeded, message),
        c('Reconciling', 'False', MIGRATION_REASONS.succeeded, ''),
        c('Degraded', 'False', MIGRATION_REASONS.succeeded, ''),
        c('Stalled', 'False', MIGRATION_REASONS.succeeded, ''),
      ],
      extra,
    );
  }

  // 5. Failures of this same input count against spec.backoffLimit; a new input starts afresh.
  const failed = parseJobName(lastJobName)?.hash8 === hash.slice(0, 8) ? failures : 0;
  const lastFailure = last?.phase === 'failed' ? `: Job ${last.name}: ${last.message}` : '';
  if (failed >= allowed) {
    const message = `${failed} runs failed (spec.backoffLimit ${backoffLimit})${lastFailure}. Fix the cause, then change the spec (or raise spec.backoffLimit) to run again`;
    return stalled(MIGRATION_REASONS.backoffLimitExceeded, message, 'no attempts left', true);
  }
  const failedMessage = `attempt ${failed} of ${allowed} failed${lastFailure}`;
  if (failed > 0 && last?.finishedAt) {
    const retryAt = Date.parse(last.finishedAt) + observation.backoffMs(failed);
    const wait = retryAt - now.getTime();
    if (wait > 0) {
      return result(
        MIGRATION_REASONS.jobFailed,
        [
          c('Ready', 'False', MIGRATION_REASONS.jobFailed, failedMessage),
          c('Reconciling', 'True', MIGRATION_REASONS.jobFailed, `next attempt in ${seconds(wait)}`),
          c('Degraded', 'True', MIGRATION_REASONS.jobFailed, failedMessage),
          c('Stalled', 'False', MIGRATION_REASONS.jobFailed, ''),
        ],
        { ...extra, requeueAfterMs: wait },
      );
    }
  }

  // 6. One Job at a time per database.
  if (observation.holder) {
    const message = `waiting for DatabaseMigration ${observation.holder.migration}: its Job ${observation.holder.job} is migrating the same database`;
    return result(
      MIGRATION_REASONS.waitingForDatabase,
      [
        c('Ready', 'False', MIGRATION_REASONS.waitingForDatabase, message),
        c('Reconciling', 'True', MIGRATION_REASONS.waitingForDatabase, message),
        c('Degraded', 'False', MIGRATION_REASONS.waitingForDatabase, ''),
        c('Stalled', 'False', MIGRATION_REASONS.waitingForDatabase, ''),
      ],
      extra,
    );
  }

  // 7. The API server refused this input's Job: nothing runs until the spec (or, at the next
  // resync, the cluster: a quota, an admission policy) changes.
  if (observation.rejected) {
    const message = `the API server refused the Job: ${observation.rejected}`;
    return stalled(MIGRATION_REASONS.jobRejected, message, 'waiting for a spec change', true);
  }

  // 8. Run it.
  const run = lastRun + 1;
  const name = migrationJobName(migration.metadata.name, hash, run);
  failures = failed;
  lastJobName = name;
  events.push({
    type: 'Normal',
    reason: MIGRATION_EVENTS.jobCreated,
    message: `created Job ${name} (attempt ${failed + 1} of ${allowed}): prisma migrate deploy with image ${migration.spec.image}`,
  });
  return { ...running(name, failed + 1), ...extra, create: { name, run, attempt: failed + 1 } };
}
