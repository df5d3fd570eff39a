import { Batcher } from '@warren/messaging';

/** How a `BatchedReads` fetches its keys, and how much it sends at once. */
export interface BatchedReadOptions<K, V> {
  /** Fetches these keys (distinct, at most `maxBatch`) in one statement; a key not returned is absent. */
  load(keys: K[]): Promise<Iterable<readonly [K, V]>>;
  /** Reads per statement at most, so keys too (default 100). */
  maxBatch?: number;
  /** Statements of this reader running at once at most (default 2): the rest of the pool stays for writes. */
  inFlight?: number;
  /** Told the number of keys of each statement as it is sent (a metric). */
  onBatch?(keys: number): void;
}

interface Read<K, V> {
  key: K;
  resolve(value: V | undefined): void;
  reject(error: unknown): void;
}

/**
 * Point reads coalesced while the database is busy, on the consumers' group commit (`Batcher`,
 * gathering by loop turn). A read while no statement of this reader runs is sent at once; reads
 * that come while one runs are sent together a loop turn later, each distinct key once
 * (`WHERE id = ANY($1)`). So with little load each read is its own statement, and under load one
 * statement answers many requests: a read costs fewer round trips, system calls and database work
 * the more reads there are, and throughput rises with load instead of falling. A read never joins
 * a statement already sent: that statement may have started before a write the read must see.
 */
export class BatchedReads<K, V> {
  private readonly batcher: Batcher<Read<K, V>>;

  constructor(private readonly options: BatchedReadOptions<K, V>) {
    const maxBatch = options.maxBatch ?? 100;
    const inFlight = options.inFlight ?? 2;
    if (!(maxBatch >= 1 && inFlight >= 1)) {
      throw new RangeError('BatchedReads: maxBatch and inFlight must be at least 1');
    }
    this.batcher = new Batcher((reads) => this.send(reads), maxBatch, inFlight, 'loop-turn');
  }

  /** The value of `key`, or undefined when the statement did not return it. */
  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => this.batcher.add({ key, resolve, reject }));
  }

  /** Reads asked for and not yet sent to the database (load shedding counts them as waiting). */
  get waiting(): number {
    return this.batcher.waiting;
  }

  private async send(reads: Read<K, V>[]): Promise<void> {
    const keys = [...new Set(reads.map((read) => read.key))];
    this.options.onBatch?.(keys.length);
    try {
      const found = new Map(await this.options.load(keys));
      for (const read of reads) read.resolve(found.get(read.key));
    } catch (error) {
      for (const read of reads) read.reject(error);
    }
  }
}
