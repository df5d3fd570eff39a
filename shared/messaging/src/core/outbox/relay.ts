import { Client, type Pool, type QueryResult } from 'pg';
import { withPooledClient } from '../database';
import type { EventEnvelope } from '@warren/contracts';
import { Backoff, sleep } from '../backoff';
import { runWithCorrelation } from '../correlation';
import { errorMessage } from '../errors';
import type { Logger } from '../logger';
import type { MessagingMetrics } from '../metrics';
import type { ConfirmPublisher } from '../publisher';
import { OUTBOX_CHANNEL } from './schema';

export interface RelayOptions {
  /** Rows published per transaction. */
  batchSize?: number;
  /** Oldest unsent rows looked at to pick the aggregates of a batch. */
  scanSize?: number;
  /** The slow poll that covers a missed notification (LISTEN connection lost, for instance). */
  safetyPollMs?: number;
  /** How often the backlog gauges are refreshed and old sent rows purged. */
  housekeepingMs?: number;
  /** Sent rows are kept this long (for audit and debugging), then deleted. */
  retentionMs?: number;
  /** Namespace of the per-aggregate advisory locks (first key of pg_try_advisory_xact_lock). */
  lockNamespace?: number;
}

interface OutboxRow {
  id: string;
  aggregate_key: string;
  envelope: string;
}

/**
 * BEGIN and one batch's claim in one round trip (a simple query of two statements, so the
 * numbers are literals): the aggregates of the oldest unsent rows that no other relay holds
 * (their advisory locks taken; MATERIALIZED so each lock is tried once), then those aggregates'
 * unsent rows, locked. A row another relay marked sent meanwhile is re-checked under its row
 * lock (READ COMMITTED) and left out.
 */
function beginAndClaim(scanSize: number, batchSize: number, lockNamespace: number): string {
  for (const n of [scanSize, batchSize, lockNamespace]) {
    if (!Number.isSafeInteger(n)) throw new TypeError(`relay option ${n} is not a whole number`);
  }
  return `BEGIN;
WITH claimed AS MATERIALIZED (
  SELECT aggregate_key FROM (
    SELECT aggregate_key, min(id) AS first_id
    FROM (SELECT aggregate_key, id FROM warren_outbox WHERE sent_at IS NULL ORDER BY id LIMIT ${scanSize}) oldest
    GROUP BY aggregate_key ORDER BY first_id LIMIT ${batchSize}
  ) candidates
  WHERE pg_try_advisory_xact_lock(${lockNamespace}, hashtext(aggregate_key))
)
SELECT id, aggregate_key, envelope::text AS envelope FROM warren_outbox
WHERE sent_at IS NULL AND aggregate_key IN (SELECT aggregate_key FROM claimed)
ORDER BY id LIMIT ${batchSize} FOR UPDATE`;
}

/** Marks the confirmed rows sent and commits, in one round trip (ids are the table's bigints). */
function markSentAndCommit(ids: string[]): string {
  if (ids.length === 0) return 'COMMIT';
  if (!ids.every((id) => /^[0-9]+$/.test(id))) throw new TypeError('outbox ids must be bigints');
  return `UPDATE warren_outbox SET sent_at = now() WHERE id = ANY('{${ids.join(',')}}'::bigint[]); COMMIT`;
}

/**
 * Publishes the outbox. Each batch runs in one transaction that holds a transaction-level
 * advisory lock per aggregate (and the row locks) from claim to "sent", so with several
 * replicas a row is published by one relay only and an aggregate's events stay in order.
 * Wakes on NOTIFY from the insert trigger, with a slow safety poll; backs off while the
 * broker or the database is down, and the backlog drains when they return.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly scanSize: number;
  private readonly safetyPollMs: number;
  private readonly housekeepingMs: number;
  private readonly retentionMs: number;
  private readonly claimStatement: string;
  private readonly stopping = new AbortController();
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  private wake: (() => void) | undefined;
  private pendingWake = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly pool: Pool,
    private readonly publisher: ConfirmPublisher,
    private readonly metrics: MessagingMetrics,
    private readonly logger: Logger,
    options: RelayOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.scanSize = options.scanSize ?? this.batchSize * 4;
    this.safetyPollMs = options.safetyPollMs ?? 5_000;
    this.housekeepingMs = options.housekeepingMs ?? 5_000;
    this.retentionMs = options.retentionMs ?? 60 * 60_000;
    this.claimStatement = beginAndClaim(
      this.scanSize,
      this.batchSize,
      options.lockNamespace ?? 0x5741_5252, // "WARR"
    );
  }

  start(): void {
    this.loops = [this.publishLoop(), this.listenLoop(), this.housekeepingLoop()];
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.notify();
    await Promise.all(this.loops);
  }

  /** Unsent rows and the age of the oldest, in seconds. */
  async backlog(): Promise<{ size: number; oldestAgeSeconds: number }> {
    const { rows } = await this.pool.query<{ size: number; age: number }>(
      `SELECT count(*)::int AS size, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age
       FROM warren_outbox WHERE sent_at IS NULL`,
    );
    return { size: rows[0].size, oldestAgeSeconds: rows[0].age };
  }

  private notify(): void {
    this.pendingWake = true;
    this.wake?.();
  }

  private waitForWork(): Promise<void> {
    if (this.pendingWake || this.stopping.signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.safetyPollMs);
      const wake = () => done();
      this.wake = wake;
      function done() {
        clearTimeout(timer);
        resolve();
      }
    }).then(() => {
      this.wake = undefined;
    });
  }

  private async publishLoop(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      this.pendingWake = false;
      let published: number;
      if (!this.publisher.ready) {
        // Nothing can be published: wait for the broker instead of polling the table.
        await Promise.race([
          this.publisher.whenReady(),
          sleep(this.safetyPollMs, this.stopping.signal),
        ]);
        continue;
      }
      try {
        published = await this.publishBatch();
        this.backoff.reset();
      } catch (error) {
        const delay = this.backoff.next();
        this.logger.warn({ err: errorMessage(error), delayMs: delay }, 'outbox relay paused');
        await sleep(delay, this.stopping.signal);
        continue;
      }
      // A full batch means more is waiting: go on without waiting for a notification.
      if (published < this.batchSize) await this.waitForWork();
    }
  }

  /**
   * Claims, publishes and marks one batch in one transaction of two round trips; returns how
   * many rows were claimed.
   */
  async publishBatch(): Promise<number> {
    const { claimed, failure } = await withPooledClient(this.pool, async (client) => {
      const [, claim] = (await client.query(
        this.claimStatement,
      )) as unknown as QueryResult<OutboxRow>[];
      const rows = claim.rows;
      if (rows.length === 0) {
        await client.query('COMMIT');
        return { claimed: 0, failure: undefined };
      }
      this.metrics.relayBatchRows.observe(rows.length);
      const { sent, failed, firstError } = await this.publishRows(rows);
      if (failed.length > 0) {
        await client.query(
          'UPDATE warren_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])',
          [failed, errorMessage(firstError)],
        );
        this.logger.warn(
          { failed: failed.length, err: errorMessage(firstError) },
          'outbox rows not confirmed',
        );
      }
      await client.query(markSentAndCommit(sent));
      return { claimed: rows.length, failure: firstError };
    });
    // Thrown after the commit, so the rows that were confirmed stay marked sent.
    if (failure) throw failure;
    return claimed;
  }

  /**
   * Publishes rows in id order on one channel; says which were confirmed (to be marked sent) and
   * which failed. A row after a failed row of the same aggregate is not marked, so the aggregate
   * is retried from its failure in order (consumers drop the duplicates through their inbox).
   */
  private async publishRows(
    rows: OutboxRow[],
  ): Promise<{ sent: string[]; failed: string[]; firstError: Error | undefined }> {
    const results = await Promise.allSettled(
      rows.map((row) => {
        const event = JSON.parse(row.envelope) as EventEnvelope;
        return runWithCorrelation(
          { correlationId: event.correlationId, causationId: event.causationId ?? undefined },
          () =>
            this.publisher.publishEncoded(
              event,
              this.publisher.targetOf(event.type),
              Buffer.from(row.envelope),
            ),
        );
      }),
    );
    const sent: string[] = [];
    const failed: string[] = [];
    const blocked = new Set<string>();
    let firstError: Error | undefined;
    results.forEach((result, i) => {
      const row = rows[i];
      if (result.status === 'fulfilled' && !blocked.has(row.aggregate_key)) {
        sent.push(row.id);
      } else {
        blocked.add(row.aggregate_key);
        if (result.status === 'rejected') {
          failed.push(row.id);
          firstError ??= result.reason as Error;
        }
      }
    });
    return { sent, failed, firstError };
  }

  /** Keeps a LISTEN connection open; reconnects with backoff when the database goes away. */
  private async listenLoop(): Promise<void> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 15_000 });
    while (!this.stopping.signal.aborted) {
      const client = new Client(this.pool.options);
      const ended = new Promise<void>((resolve) => {
        client.once('end', () => resolve());
        client.on('error', () => resolve());
      });
      const endOnStop = () => void client.end().catch(() => undefined);
      this.stopping.signal.addEventListener('abort', endOnStop, { once: true });
      try {
        await client.connect();
        client.on('notification', () => this.notify());
        await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
        backoff.reset();
        // Rows written while not listening are picked up now.
        this.notify();
        await ended;
      } catch (error) {
        if (!this.stopping.signal.aborted)
          this.logger.warn({ err: errorMessage(error) }, 'outbox LISTEN connection failed');
      } finally {
        this.stopping.signal.removeEventListener('abort', endOnStop);
      }
      await client.end().catch(() => undefined);
      if (!this.stopping.signal.aborted) await sleep(backoff.next(), this.stopping.signal);
    }
  }

  private async housekeepingLoop(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        const { size, oldestAgeSeconds } = await this.backlog();
        this.metrics.outboxBacklog.set(size);
        this.metrics.outboxOldestAge.set(oldestAgeSeconds);
        await this.pool.query(
          `DELETE FROM warren_outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)`,
          [this.retentionMs / 1000],
        );
      } catch (error) {
        this.logger.debug({ err: errorMessage(error) }, 'outbox housekeeping skipped');
      }
      await sleep(this.housekeepingMs, this.stopping.signal);
    }
  }
}
