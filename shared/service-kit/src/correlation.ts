import type { NextFunction, Request, Response } from 'express';
import {
  CORRELATION_HEADER as HEADER,
  correlationIdFromHeader,
  currentCorrelation,
  runWithCorrelation,
} from '@warren/messaging';

/**
 * One correlation context per process: the messaging module's. A request's id set here is the
 * one the outbox stamps on its events, the consumer restores for their handlers, and every log
 * line carries.
 */
export { runWithCorrelation };

export const CORRELATION_HEADER = 'X-Correlation-Id';

export function currentCorrelationId(): string | undefined {
  return currentCorrelation()?.correlationId;
}

/** A client-supplied id is kept when it is a sane token; otherwise the request gets a new one. */
export const correlationIdFrom = correlationIdFromHeader;

/**
 * Reads (or creates) the correlation id and echoes it in the response, before anything can fail.
 * The chosen id is written back into the request header, so middleware that reads the header
 * later (the messaging module's) sees the same id.
 */
export function correlationMiddleware(req: Request, res: Response, next: NextFunction): void {
  const correlationId = correlationIdFrom(req.headers[HEADER]);
  req.headers[HEADER] = correlationId;
  res.setHeader(CORRELATION_HEADER, correlationId);
  res.locals.correlationId = correlationId;
  next();
}

/**
 * Runs the rest of the request inside its correlation context. Placed after body parsing: the
 * parser resumes on socket events, which would drop an async context entered before it.
 */
export function correlationContextMiddleware(
  _req: Request,
  res: Response,
  next: NextFunction,
): void {
  runWithCorrelation({ correlationId: res.locals.correlationId as string }, next);
}
