import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/**
 * The correlation context of the work in progress: set from the HTTP header for requests and
 * from the message for consumed events, read by the outbox (new events inherit it) and by
 * every log line.
 */
export interface CorrelationContext {
  correlationId: string;
  /** The event being handled, which becomes the causation of events it leads to. */
  causationId?: string;
}

export const CORRELATION_HEADER = 'x-correlation-id';

const storage = new AsyncLocalStorage<CorrelationContext>();

export function runWithCorrelation<T>(context: CorrelationContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentCorrelation(): CorrelationContext | undefined {
  return storage.getStore();
}

/** The current correlation id, or a new one when the work did not start from a request or event. */
export function correlationIdOrNew(): string {
  return storage.getStore()?.correlationId ?? randomUUID();
}

/** Accepts a client-supplied id only when it is a sane token, otherwise starts a new one. */
export function correlationIdFromHeader(value: string | string[] | undefined): string {
  const candidate = Array.isArray(value) ? value[0] : value;
  return candidate && /^[\w.:-]{1,200}$/.test(candidate) ? candidate : randomUUID();
}
