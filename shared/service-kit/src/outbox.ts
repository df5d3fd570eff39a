import type { EventEnvelope, EventType, PayloadOf } from '@warren/contracts';
import type { Statement } from '@warren/messaging';

export type { Statement };

/** An event a service emits, written in the same transaction as the state change it announces. */
export interface OutgoingEvent<T extends EventType = EventType> {
  type: T;
  payload: PayloadOf<T>;
  /** The consumed event that led to this one, if any (default: the event being handled). */
  causationId?: string;
  /** Events with the same key are published in the order they were written (e.g. an order id). */
  aggregateKey?: string;
}

/** A consumed event as a handler sees it, after the consumer has validated its contract. */
export type IncomingEvent<T extends EventType> = Pick<
  EventEnvelope<T>,
  'id' | 'type' | 'correlationId' | 'payload'
>;

/**
 * The transactional outbox as the services see it: `append` stores the event with `tx`, so it
 * is published exactly when the transaction commits. In production: the messaging module's
 * outbox (`ServiceMessagingModule`); in service tests: `TableOutbox`.
 */
export interface TransactionalOutbox<Tx> {
  append<T extends EventType>(tx: Tx, event: OutgoingEvent<T>): Promise<void>;
  /**
   * The row `append` would write, as an INSERT whose parameters start at `$first`, for a write
   * that puts its state change and its event into one statement (a data-modifying CTE).
   */
  rowStatement<T extends EventType>(event: OutgoingEvent<T>, first: number): Statement;
}

export const OUTBOX = Symbol('OUTBOX');
