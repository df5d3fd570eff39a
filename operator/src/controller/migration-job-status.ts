/**
 * What the cached migration Jobs and their pods say, pure: each Job's phase, run and timing,
 * which finished Jobs may go, and the end of a failed pod's output. Unit-tested on their own.
 */
import type { KubeObject } from '../kube/client';
import {
  ATTEMPT_ANNOTATION,
  DATABASE_LABEL,
  INPUT_HASH_LABEL,
  MIGRATION_LABEL,
  RUN_ANNOTATION,
} from './annotations';
import { parseJobName } from './migration-job';

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
