/**
 * A keyed work queue with the controller-runtime contract: a key is processed by at most one
 * worker at a time; adding a key that is queued is a no-op; adding a key that is being
 * processed marks it dirty so it runs once more afterwards; failures are retried with
 * per-key exponential backoff, reset by success (`forget`). A `TerminalError` is not retried.
 */
import { backoffDelayMs } from '../util/backoff';

export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseDelayMs: 500, maxDelayMs: 5 * 60_000 };

/**
 * A failure retrying cannot fix (controller-runtime's TerminalError): reported, then the key
 * waits for the next change (or `requeueAfterMs`, a resync) instead of being retried with backoff.
 */
export class TerminalError extends Error {
  override name = 'TerminalError';
  constructor(
    message: string,
    readonly requeueAfterMs?: number,
  ) {
    super(message);
  }
}

export type Processor = (key: string) => Promise<ProcessResult>;

/** What a reconcile asks of the queue. */
export type ProcessResult = { requeueAfterMs?: number } | void;

export class WorkQueue {
  private readonly queued = new Set<string>();
  private readonly order: string[] = [];
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly idleWaiters: (() => void)[] = [];
  private running = 0;
  private stopped = false;

  constructor(
    private readonly process: Processor,
    /** `retryInMs` is undefined for a TerminalError: the key is not retried. */
    private readonly onError: (key: string, error: unknown, retryInMs: number | undefined) => void,
    private readonly concurrency = 4,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {}

  /** Queues a key now. Cancels a delayed add of the same key: the sooner wins. */
  add(key: string): void {
    if (this.stopped) return;
    this.clearTimer(key);
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.order.push(key);
    this.pump();
  }

  /** Queues a key after a delay, unless an earlier add is already pending. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped || this.queued.has(key)) return;
    const existing = this.timers.get(key) as (NodeJS.Timeout & { dueAt?: number }) | undefined;
    const dueAt = Date.now() + delayMs;
    if (existing?.dueAt !== undefined && existing.dueAt <= dueAt) return;
    this.clearTimer(key);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs) as NodeJS.Timeout & { dueAt?: number };
    timer.dueAt = dueAt;
    timer.unref?.();
    this.timers.set(key, timer);
  }

  /** The delay before the next retry of a key that failed `failures` times in a row. */
  backoffDelay(failures: number): number {
    return backoffDelayMs(failures, this.backoff.baseDelayMs, this.backoff.maxDelayMs);
  }

  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  get length(): number {
    return this.order.length;
  }

  /** Resolves when nothing is queued or being processed (delayed adds do not count). */
  whenIdle(): Promise<void> {
    if (this.order.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking work; resolves once in-flight work has finished. */
  async shutDown(): Promise<void> {
    this.stopped = true;
    for (const key of [...this.timers.keys()]) this.clearTimer(key);
    this.order.length = 0;
    this.queued.clear();
    await this.whenIdle();
  }

  private clearTimer(key: string) {
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
  }

  private pump() {
    while (!this.stopped && this.running < this.concurrency && this.order.length > 0) {
      const key = this.order.shift()!;
      this.queued.delete(key);
      this.processing.add(key);
      this.running++;
      void this.work(key);
    }
    if (this.running === 0 && this.order.length === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async work(key: string) {
    try {
      const result = await this.process(key);
      this.failures.delete(key);
      if (result && result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (error) {
      if (error instanceof TerminalError) {
        this.failures.delete(key);
        this.onError(key, error, undefined);
        if (error.requeueAfterMs !== undefined) this.addAfter(key, error.requeueAfterMs);
        return;
      }
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      const delay = this.backoffDelay(failures);
      this.onError(key, error, delay);
      this.addAfter(key, delay);
    } finally {
      this.processing.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
