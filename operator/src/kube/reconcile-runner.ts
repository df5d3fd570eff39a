/**
 * The work queue with what every controller's reconcile gets around it, as controller-runtime's
 * runner gives it: the duration and result of each reconcile in metrics, and a log line for
 * each failure with when it is retried. Controllers only reconcile.
 */
import type { Logger } from '../observability/log';
import type { OperatorMetrics } from '../observability/metrics';
import { WorkQueue, type ProcessResult } from './work-queue';

export interface RunnerOptions {
  /** The resource kind, as metrics label it. */
  kind: string;
  reconcile: (key: string) => Promise<ProcessResult>;
  metrics: OperatorMetrics;
  log: Logger;
  concurrency: number;
  /** Log fields naming the key (the topology has a single key, and names none). */
  describeKey?: (key: string) => Record<string, unknown>;
  /** Report the queue depth in warren_work_queue_depth. */
  reportsDepth?: boolean;
  /** Called when each reconcile ends, whatever its result. */
  afterEach?: () => void;
}

export function reconcileRunner(options: RunnerOptions): WorkQueue {
  const { kind, metrics, log } = options;
  const queue: WorkQueue = new WorkQueue(
    async (key) => {
      const end = metrics.reconcileDuration.startTimer({ kind });
      try {
        const result = await options.reconcile(key);
        metrics.reconciles.inc({ kind, result: 'success' });
        return result;
      } catch (error) {
        metrics.reconciles.inc({ kind, result: 'error' });
        metrics.reconcileErrors.inc({ kind, reason: (error as Error).name });
        throw error;
      } finally {
        end();
        if (options.reportsDepth) metrics.workQueueDepth.set(queue.length);
        options.afterEach?.();
      }
    },
    (key, error, retryInMs) =>
      log.warn(
        { kind, ...options.describeKey?.(key), err: (error as Error).message, retryInMs },
        retryInMs === undefined
          ? 'reconcile failed; not retried until a change or resync'
          : 'reconcile failed; backing off',
      ),
    options.concurrency,
  );
  return queue;
}
