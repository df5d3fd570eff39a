import type { MessagingMetrics } from '../metrics';

type Outcome = 'handled' | 'duplicate' | 'failed';

interface Bound {
  observe(value: number): void;
}

/**
 * The consumer's per-message metrics through label-bound children, cached per event type, queue
 * and outcome: the hot path skips prom-client's label hashing.
 */
export class ConsumerMetrics {
  private readonly bound = new Map<string, { duration: Bound; count?: { inc(): void } }>();

  constructor(private readonly metrics: MessagingMetrics) {}

  observe(eventType: string, queue: string, outcome: Outcome, seconds: number): void {
    const key = `${eventType}\u0000${queue}\u0000${outcome}`;
    let entry = this.bound.get(key);
    if (!entry) {
      const labels = { event_type: eventType, queue };
      entry = {
        duration: this.metrics.handlerDuration.labels({ ...labels, outcome }),
        // Failures are counted by the failure path, with their error kind.
        count:
          outcome === 'handled'
            ? this.metrics.consumed.labels(labels)
            : outcome === 'duplicate'
              ? this.metrics.duplicates.labels(labels)
              : undefined,
      };
      this.bound.set(key, entry);
    }
    entry.duration.observe(seconds);
    entry.count?.inc();
  }
}
