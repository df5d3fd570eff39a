/** An event a service emits, written in the same transaction as the state change it announces. */
export interface OutgoingEvent {
  type: string;
  payload: Record<string, unknown>;
  /** The consumed event that led to this one, if any. */
  causationId?: string;
}

/** A consumed event as a handler sees it, after the consumer has validated its contract. */
export interface IncomingEvent<P> {
  id: string;
  type: string;
  correlationId: string;
  payload: P;
}

/**
 * The transactional outbox as the services see it: `append` stores the event with `tx`, so it
 * is published exactly when the transaction commits. Implemented by the messaging module.
 */
export interface TransactionalOutbox<Tx> {
  append(tx: Tx, event: OutgoingEvent): Promise<void>;
}

export const OUTBOX = Symbol('OUTBOX');

/**
 * Bound until the messaging module is wired in: writes that must publish an event fail loudly
 * (and roll back) instead of losing the event; reads keep working.
 */
export class MessagingNotWiredOutbox implements TransactionalOutbox<unknown> {
  append(_tx: unknown, event: OutgoingEvent): Promise<void> {
    return Promise.reject(new Error(`cannot publish ${event.type}: the messaging module is not wired into this service`));
  }
}
