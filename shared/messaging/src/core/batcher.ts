/**
 * When added items are shared out into batches:
 * - 'microtask' (the consumers'): at the end of the current job, as the client delivers a whole
 *   socket read at once and those deliveries should go together;
 * - 'loop-turn' (the services' point reads): at once when no batch runs, so a lone item waits for
 *   nothing; else at the next turn of the event loop, with the requests parsed in this one.
 */
export type BatchGathering = 'microtask' | 'loop-turn';

/**
 * Group commit: items wait while `concurrency` batches are running, and a freed slot takes what
 * has piled up meanwhile (at most `maxBatch`). Under light load every item runs at once, alone;
 * under heavy load batches grow, so the fixed cost of a transaction (or a statement) is shared by
 * many items.
 */
export class Batcher<T> {
  private pending: T[] = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly run: (batch: T[]) => Promise<void>,
    private readonly maxBatch: number,
    private readonly concurrency: number,
    private readonly gathering: BatchGathering = 'microtask',
  ) {}

  /** Items added and not yet in a running batch. */
  get waiting(): number {
    return this.pending.length;
  }

  add(item: T): void {
    this.pending.push(item);
    if (this.scheduled || this.running >= this.concurrency) return; // a freed slot pumps
    if (this.gathering === 'loop-turn' && this.running === 0) return this.pump();
    this.scheduled = true;
    const pump = () => {
      this.scheduled = false;
      this.pump();
    };
    if (this.gathering === 'microtask') queueMicrotask(pump);
    else setImmediate(pump);
  }

  private pump(): void {
    while (this.running < this.concurrency && this.pending.length > 0) {
      // Spread what is waiting over the free slots rather than filling one batch first.
      const size = Math.min(
        this.maxBatch,
        Math.ceil(this.pending.length / (this.concurrency - this.running)),
      );
      const batch = this.pending.splice(0, size);
      this.running += 1;
      void this.settle(batch);
    }
  }

  /** `run` settles each item itself; a rejection here must not stop the pump. */
  private async settle(batch: T[]): Promise<void> {
    try {
      await this.run(batch);
    } catch {
      // settled by `run`
    } finally {
      this.running -= 1;
      this.pump();
    }
  }
}
