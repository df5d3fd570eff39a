import {
  BROKER_DELIVERY_COUNT_HEADER,
  ContractError,
  WARREN_HEADERS,
  type ConsumerQueue,
  type DeadLetterReason,
} from '@warren/contracts';
import { errorKind, errorMessage, isInfrastructureError } from '../errors';

export type FailureDecision =
  /** A server the handler needs is down: put the message back without using an attempt. */
  | { action: 'requeue' }
  | { action: 'retry'; exchange: string; routingKey: string; nextAttempt: number; delayMs: number }
  /** Strategy broker: reject with requeue, and the queue delays the message by delayMs. */
  | { action: 'delay'; nextAttempt: number; delayMs: number }
  | { action: 'dead-letter'; reason: DeadLetterReason; exchange: string; routingKey: string }
  /** The route turned dead-lettering off: log and drop. */
  | { action: 'drop'; reason: DeadLetterReason };

/** Raised when a delivered event type has no handler in this service: never retried. */
export class NoHandlerError extends Error {
  override readonly name = 'NoHandlerError';
}

function matchesNonRetryable(error: unknown, kinds: string[]): boolean {
  if (error instanceof NoHandlerError) return true;
  if (!error || typeof error !== 'object') return false;
  const { code, name } = error as { code?: unknown; name?: unknown };
  return kinds.includes(String(code)) || kinds.includes(String(name));
}

/**
 * Dead letters are published with the failed queue's name as routing key: the engine declares
 * the dead-letter exchange as fanout (any key reaches the DLQ), and the key still tells a reader
 * which queue failed the message.
 *
 * What to do with a message whose handling failed on delivery `attempt` (1-based), following
 * the queue's RetryPlan and the protocol in the topology document. Pure.
 */
export function decideFailure(
  queue: ConsumerQueue,
  attempt: number,
  error: unknown,
): FailureDecision {
  if (!(error instanceof ContractError) && isInfrastructureError(error))
    return { action: 'requeue' };
  const { retry } = queue;
  let reason: DeadLetterReason | undefined;
  if (error instanceof ContractError) reason = 'contract-invalid';
  else if (matchesNonRetryable(error, retry.nonRetryableErrors)) reason = 'non-retryable';
  else if (attempt >= retry.maxAttempts) reason = 'retries-exhausted';
  if (reason) {
    return queue.deadLetter
      ? {
          action: 'dead-letter',
          reason,
          exchange: queue.deadLetter.exchange,
          routingKey: queue.queue,
        }
      : { action: 'drop', reason };
  }
  const delayMs = retry.delaysMs[attempt - 1]!;
  if (retry.strategy === 'broker') return { action: 'delay', nextAttempt: attempt + 1, delayMs };
  const level = retry.levels.find((l) => l.delayMs === delayMs);
  if (!level) {
    throw new Error(
      `retry plan of ${queue.queue} has no level for delay ${delayMs} ms (attempt ${attempt})`,
    );
  }
  return {
    action: 'retry',
    exchange: retry.exchange,
    routingKey: level.routingKey,
    nextAttempt: attempt + 1,
    delayMs,
  };
}

/**
 * The delivery attempt of a message on `queue` (1 on first delivery): the x-warren-attempt header
 * the consumer wrote (TTL retry queues), or 1 + the failed deliveries the broker counted
 * (strategy broker: the message is never rewritten).
 */
export function attemptOf(
  queue: Pick<ConsumerQueue, 'retry'>,
  headers: Record<string, unknown> | undefined,
): number {
  const value =
    queue.retry.strategy === 'broker'
      ? 1 + Number(headers?.[BROKER_DELIVERY_COUNT_HEADER] ?? 0)
      : Number(headers?.[WARREN_HEADERS.attempt] ?? 1);
  return Number.isInteger(value) && value >= 1 ? value : 1;
}

export interface FailureFacts {
  queue: string;
  exchange: string;
  routingKey: string;
  attempt: number;
  error: unknown;
  at: Date;
  /**
   * The earlier attempts left no headers (strategy broker): the first failure time is unknown,
   * so x-warren-first-failure-at is written only when this is the first attempt.
   */
  earlierFailuresUnrecorded?: boolean;
}

/**
 * Headers of a message sent on to a retry queue or the dead-letter queue. The original exchange,
 * routing key and first failure time survive every hop; the error is always the latest.
 */
export function failureHeaders(
  original: Record<string, unknown> | undefined,
  facts: FailureFacts,
  next: { attempt: number } | { reason: DeadLetterReason },
): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...original };
  const keep = (key: string, value: unknown) => {
    if (headers[key] === undefined) headers[key] = value;
  };
  keep(WARREN_HEADERS.originalExchange, facts.exchange);
  keep(WARREN_HEADERS.originalRoutingKey, facts.routingKey);
  keep(WARREN_HEADERS.originalQueue, facts.queue);
  if (!facts.earlierFailuresUnrecorded || facts.attempt === 1)
    keep(WARREN_HEADERS.firstFailureAt, facts.at.toISOString());
  headers[WARREN_HEADERS.lastFailureAt] = facts.at.toISOString();
  headers[WARREN_HEADERS.error] = errorMessage(facts.error).slice(0, 1000);
  headers[WARREN_HEADERS.errorKind] = errorKind(facts.error);
  if ('attempt' in next) {
    headers[WARREN_HEADERS.attempt] = next.attempt;
  } else {
    headers[WARREN_HEADERS.attempt] = facts.attempt;
    headers[WARREN_HEADERS.reason] = next.reason;
  }
  return headers;
}
