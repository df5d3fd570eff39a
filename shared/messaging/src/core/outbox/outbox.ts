import {
  createEvent,
  type EventEnvelope,
  type EventType,
  type PayloadOf,
  type ServiceTopology,
} from '@warren/contracts';
import { correlationIdOrNew, currentCorrelation } from '../correlation';
import { sqlExecutor, type SqlTarget } from '../database';

export interface EnqueueOptions {
  /**
   * Events with the same key are published in the order they were written (e.g. the order id).
   * Defaults to the event id: no ordering with other events.
   */
  aggregateKey?: string;
  /** Defaults to the correlation id of the current request or event, or a new one. */
  correlationId?: string;
  /** Defaults to the event being handled, if any. */
  causationId?: string | null;
}

/** A parameterised statement: its text and its values, $1 = values[0]. */
export interface Statement {
  sql: string;
  values: unknown[];
}

/** The outbox row's INSERT with its parameters numbered from `first`, to go into a bigger statement. */
function insertRow(event: EventEnvelope, aggregateKey: string, first: number): Statement {
  const $ = (i: number) => `$${first + i}`;
  return {
    sql: `INSERT INTO warren_outbox (event_id, event_type, aggregate_key, correlation_id, envelope)
VALUES (${$(0)}::uuid, ${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}::json)`,
    values: [event.id, event.type, aggregateKey, event.correlationId, JSON.stringify(event)],
  };
}

/**
 * Writes events into the service's outbox table inside the caller's transaction, so an event
 * exists exactly when the state change that caused it was committed.
 */
export class Outbox {
  private readonly allowed: Set<string>;

  constructor(private readonly topology: ServiceTopology) {
    this.allowed = new Set(topology.publishes.map((p) => p.eventType));
  }

  /** Builds the envelope (validated against its contract) and inserts it with `tx`. */
  async enqueue<T extends EventType>(
    tx: SqlTarget,
    type: T,
    payload: PayloadOf<T>,
    options: EnqueueOptions = {},
  ): Promise<EventEnvelope<T>> {
    const event = this.envelope(type, payload, options);
    await this.insert(tx, event, options.aggregateKey ?? event.id);
    return event;
  }

  /**
   * The same row as `enqueue` writes, as an INSERT whose parameters start at `$first`: for a write
   * that puts its state change and its event into one statement (a data-modifying CTE), which is
   * atomic without BEGIN and COMMIT.
   */
  rowStatement<T extends EventType>(
    type: T,
    payload: PayloadOf<T>,
    options: EnqueueOptions,
    first: number,
  ): Statement {
    const event = this.envelope(type, payload, options);
    return insertRow(event, options.aggregateKey ?? event.id, first);
  }

  /** Inserts an envelope that was built elsewhere. */
  async insert(tx: SqlTarget, event: EventEnvelope, aggregateKey: string): Promise<void> {
    const { sql, values } = insertRow(event, aggregateKey, 1);
    await sqlExecutor(tx).execute(sql, values);
  }

  private envelope<T extends EventType>(
    type: T,
    payload: PayloadOf<T>,
    options: EnqueueOptions,
  ): EventEnvelope<T> {
    if (!this.allowed.has(type)) {
      throw new Error(
        `service "${this.topology.service}" has no EventRoute publishing "${type}" (it may publish: ${[...this.allowed].join(', ') || 'none'})`,
      );
    }
    const context = currentCorrelation();
    return createEvent(type, payload, {
      source: this.topology.service,
      correlationId: options.correlationId ?? correlationIdOrNew(),
      causationId:
        options.causationId !== undefined ? options.causationId : (context?.causationId ?? null),
    });
  }
}
