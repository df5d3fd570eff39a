/**
 * What the pod of a failed migration Job said (exit code, end of Prisma's output), read once per
 * Job since a finished pod does not change, and added to the Job's failure message.
 */
import { KubeApiError, type KubeClient } from '../kube/client';
import type { Logger } from '../observability/log';
import { podFailureDetail, type JobSummary, type PodObject } from './migration-job-status';
import { corePath } from './resources';

const jobKey = (job: { namespace: string; name: string }) => `${job.namespace}/${job.name}`;

export class FailedJobOutput {
  /** By Job; undefined when its pods said nothing useful. */
  private readonly details = new Map<string, string | undefined>();
  /** Set at the first 403: the chart grants pods/list, a hand-made Role may not. */
  private podsForbidden = false;

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
  ) {}

  /** Reads the pods of the failed Jobs among `jobs` not read yet. */
  async read(jobs: readonly JobSummary[]): Promise<void> {
    const unread = jobs.filter((job) => job.phase === 'failed' && !this.details.has(jobKey(job)));
    for (const job of unread) {
      if (this.podsForbidden) return;
      try {
        const pods = await this.client.request<{ items: PodObject[] }>(
          'GET',
          corePath(job.namespace, 'pods'),
          { query: { labelSelector: `batch.kubernetes.io/job-name=${job.name}` } },
        );
        this.details.set(jobKey(job), podFailureDetail(pods.items));
      } catch (error) {
        if (error instanceof KubeApiError && error.status === 403) {
          this.podsForbidden = true;
          this.log.info(
            { err: String(error) },
            'pods cannot be listed: failed migrations are reported without their output',
          );
        } else {
          // Not remembered: the next reconcile asks again.
          this.log.warn({ err: String(error), job: job.name }, 'failed Job pod not read');
        }
      }
    }
  }

  /** A failed Job's message, followed by what its pod said. */
  withDetail(job: JobSummary): JobSummary {
    const detail = this.details.get(jobKey(job));
    return detail ? { ...job, message: `${job.message}; ${detail}` } : job;
  }

  forget(job: JobSummary): void {
    this.details.delete(jobKey(job));
  }
}
