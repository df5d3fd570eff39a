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

const INSERT = `INSERT INTO warren_outbox (event_id, event_type, aggregate_key, correlation_id, envelope)
VALUES ($1::uuid, $2, $3, $4, $5::json)`;

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
    if (!this.allowed.has(type)) {
      throw new Error(
        `service "${this.topology.service}" has no EventRoute publishing "${type}" (it may publish: ${[...this.allowed].join(', ') || 'none'})`,
      );
    }
    const context = currentCorrelation();
    const event = createEvent(type, payload, {
      source: this.topology.service,
      correlationId: options.correlationId ?? correlationIdOrNew(),
      causationId:
        options.causationId !== undefined ? options.causationId : (context?.causationId ?? null),
    });
    await this.insert(tx, event, options.aggregateKey ?? event.id);
    return event;
  }

  /** Inserts an envelope that was built elsewhere. */
  async insert(tx: SqlTarget, event: EventEnvelope, aggregateKey: string): Promise<void> {
    await sqlExecutor(tx).execute(INSERT, [
      event.id,
      event.type,
      aggregateKey,
      event.correlationId,
      JSON.stringify(event),
    ]);
  }
}
