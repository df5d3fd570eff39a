/** How a `BatchedReads` fetches its keys, and how much it sends at once. */
export interface BatchedReadOptions<K, V> {
  /** Fetches these keys (distinct, at most `maxBatch`) in one statement; a key not returned is absent. */
  load(keys: K[]): Promise<Iterable<readonly [K, V]>>;
  /** Keys per statement at most (default 100). */
  maxBatch?: number;
  /** Statements of this reader running at once at most (default 2): the rest of the pool stays for writes. */
  inFlight?: number;
  /** Told the number of keys of each statement as it is sent (a metric). */
  onBatch?(keys: number): void;
}

interface Waiter<V> {
  resolve(value: V | undefined): void;
  reject(error: unknown): void;
}

/**
 * Point reads coalesced while the database is busy. A key asked for while `inFlight` statements
 * of this reader are running waits for the next one, which fetches every waiting key at once
 * (`WHERE id = ANY($1)`). A read while none runs is sent at once; one while another runs a loop
 * turn later, with the reads of the requests parsed in the same turn. So with little load each read
 * is its own statement, and under load one statement answers many requests: a read costs fewer
 * round trips, system calls and database work the more reads there are, and throughput rises with
 * load instead of falling. A read never joins a statement already sent: that statement may have
 * started before a write the read must see.
 */
export class BatchedReads<K, V> {
  /** Keys not sent yet, in the order first asked, with everyone waiting for each. */
  private pending = new Map<K, Waiter<V>[]>();
  private waiters = 0;
  private running = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly inFlight: number;

  constructor(private readonly options: BatchedReadOptions<K, V>) {
    this.maxBatch = options.maxBatch ?? 100;
    this.inFlight = options.inFlight ?? 2;
    if (!(this.maxBatch >= 1 && this.inFlight >= 1)) {
      throw new RangeError('BatchedReads: maxBatch and inFlight must be at least 1');
    }
  }

  /** The value of `key`, or undefined when the statement did not return it. */
  get(key: K): Promise<V | undefined> {
    return new Promise<V | undefined>((resolve, reject) => {
      const waiting = this.pending.get(key);
      if (waiting) waiting.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      this.waiters += 1;
      this.schedule();
    });
  }

  /** Reads asked for and not yet sent to the database (load shedding counts them as waiting). */
  get waiting(): number {
    return this.waiters;
  }

  /**
   * At once when nothing runs (no latency added to a lone read); else a turn of the event loop
   * first, so that the reads of the requests parsed in this one go together.
   */
  private schedule(): void {
    if (this.scheduled || this.running >= this.inFlight) return;
    if (this.running === 0) return this.dispatch();
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.running < this.inFlight && this.pending.size > 0) {
      const batch = new Map<K, Waiter<V>[]>();
      for (const [key, waiting] of this.pending) {
        if (batch.size === this.maxBatch) break;
        batch.set(key, waiting);
        this.pending.delete(key);
        this.waiters -= waiting.length;
      }
      this.running += 1;
      this.options.onBatch?.(batch.size);
      void this.send(batch);
    }
  }

  private async send(batch: Map<K, Waiter<V>[]>): Promise<void> {
    try {
      const found = new Map(await this.options.load([...batch.keys()]));
      for (const [key, waiting] of batch) {
        const value = found.get(key);
        for (const waiter of waiting) waiter.resolve(value);
      }
    } catch (error) {
      for (const waiting of batch.values()) for (const waiter of waiting) waiter.reject(error);
    } finally {
      this.running -= 1;
      // What queued while this statement ran goes at once: it has waited a statement already.
      this.dispatch();
    }
  }
}
