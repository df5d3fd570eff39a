/**
 * Group commit: items wait while `concurrency` batches are running, and a freed slot takes what
 * has piled up meanwhile (at most `maxBatch`). Under light load every item runs at once, alone;
 * under heavy load batches grow, so the fixed cost of a transaction is shared by many messages.
 */
export class Batcher<T> {
  private pending: T[] = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly run: (batch: T[]) => Promise<void>,
    private readonly maxBatch: number,
    private readonly concurrency: number,
  ) {}

  add(item: T): void {
    this.pending.push(item);
    // Deferred to the end of the current job: the client delivers a whole socket read at once,
    // and those deliveries should be shared out together.
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.pump();
      });
    }
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
      // `run` settles each item itself; a rejection here must not stop the pump.
      void this.run(batch)
        .catch(() => undefined)
        .finally(() => {
          this.running -= 1;
          this.pump();
        });
    }
  }
}
