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

interface HttpRequestLike {
  headers: Record<string, string | string[] | undefined>;
}
interface HttpResponseLike {
  setHeader(name: string, value: string): unknown;
  locals?: Record<string, unknown>;
}

/**
 * The one correlation middleware (Express-shaped, so Nest and plain Express use the same):
 * adopts a sane `X-Correlation-Id` or starts one, echoes it in the response before anything
 * can fail, and runs the rest of the request in its context, so the outbox stamps it on the
 * events the request commits and every log line carries it. Applied a second time (a Nest
 * module inside an app that already applies it) it only passes on.
 */
export function correlationMiddleware(
  request: HttpRequestLike,
  response: HttpResponseLike,
  next: () => void,
): void {
  if (storage.getStore() !== undefined) return next();
  const correlationId = correlationIdFromHeader(request.headers[CORRELATION_HEADER]);
  request.headers[CORRELATION_HEADER] = correlationId;
  response.setHeader(CORRELATION_HEADER, correlationId);
  if (response.locals) response.locals.correlationId = correlationId;
  storage.run({ correlationId }, next);
}
