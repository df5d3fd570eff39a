import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** The request or message being worked on; every log line of that work carries its id. */
export interface CorrelationContext {
  correlationId: string;
}

export const CORRELATION_HEADER = 'X-Correlation-Id';

const storage = new AsyncLocalStorage<CorrelationContext>();

export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

export function runWithCorrelation<T>(context: CorrelationContext, work: () => T): T {
  return storage.run(context, work);
}

/** A client-supplied id is kept when it is a sane token; otherwise the request gets a new one. */
export function correlationIdFrom(header: string | string[] | undefined): string {
  const candidate = Array.isArray(header) ? header[0] : header;
  return candidate && /^[\w.:-]{1,200}$/.test(candidate) ? candidate : randomUUID();
}

/** Reads (or creates) the correlation id and echoes it in the response, before anything can fail. */
export function correlationMiddleware(req: Request, res: Response, next: NextFunction): void {
  const correlationId = correlationIdFrom(req.headers[CORRELATION_HEADER.toLowerCase()]);
  res.setHeader(CORRELATION_HEADER, correlationId);
  res.locals.correlationId = correlationId;
  next();
}

/**
 * Runs the rest of the request inside its correlation context. Placed after body parsing: the
 * parser resumes on socket events, which would drop an async context entered before it.
 */
export function correlationContextMiddleware(_req: Request, res: Response, next: NextFunction): void {
  runWithCorrelation({ correlationId: res.locals.correlationId as string }, next);
}
