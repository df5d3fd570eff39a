/**
 * One correlation context per process: the messaging module's. The id its middleware sets is
 * the one the outbox stamps on events, the consumer restores for their handlers, and every log
 * line carries.
 */
export { correlationMiddleware } from '@warren/messaging';

export const CORRELATION_HEADER = 'X-Correlation-Id';

/** A client-supplied id is kept when it is a sane token; otherwise the request gets a new one. */
export { correlationIdFromHeader as correlationIdFrom } from '@warren/messaging';
