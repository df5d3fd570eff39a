/**
 * Dead letters as the consumer protocol leaves them (WARREN_HEADERS): what one says about its
 * failure, and the message `warren redrive` sends back to the queue that failed it. Pure.
 */
import {
  DEAD_LETTER_REASONS,
  WARREN_HEADERS as H,
  type DeadLetterReason,
} from '@warren/contracts/topology';

/** The parts of an AMQP message these functions read (amqplib's GetMessage fits). */
export interface DeadLetterMessage {
  content: Buffer;
  properties: {
    messageId?: unknown;
    type?: unknown;
    correlationId?: unknown;
    headers?: Record<string, unknown>;
  };
}

export interface DeadLetterSummary {
  messageId: string | null;
  /** The event type (AMQP `type`), else the original routing key. */
  eventType: string | null;
  reason: DeadLetterReason | 'unknown';
  errorKind: string | null;
  error: string | null;
  attempts: number | null;
  firstFailureAt: string | null;
  lastFailureAt: string | null;
  originalQueue: string | null;
  correlationId: string | null;
  /** Times `warren redrive` already sent it back. */
  redrives: number;
  bytes: number;
}

const text = (value: unknown): string | null =>
  value === undefined || value === null || value === ''
    ? null
    : Buffer.isBuffer(value)
      ? value.toString('utf8')
      : String(value);

export function describeDeadLetter(message: DeadLetterMessage): DeadLetterSummary {
  const headers = message.properties.headers ?? {};
  const reason = text(headers[H.reason]);
  const attempts = Number(headers[H.attempt]);
  return {
    messageId: text(message.properties.messageId),
    eventType: text(message.properties.type) ?? text(headers[H.originalRoutingKey]),
    reason: DEAD_LETTER_REASONS.includes(reason as DeadLetterReason)
      ? (reason as DeadLetterReason)
      : 'unknown',
    errorKind: text(headers[H.errorKind]),
    error: text(headers[H.error]),
    attempts: Number.isInteger(attempts) && attempts > 0 ? attempts : null,
    firstFailureAt: text(headers[H.firstFailureAt]),
    lastFailureAt: text(headers[H.lastFailureAt]),
    originalQueue: text(headers[H.originalQueue]),
    correlationId: text(message.properties.correlationId) ?? text(headers[H.correlationId]),
    redrives: Number(headers[H.redrives]) || 0,
    bytes: message.content.length,
  };
}

/** `--reason a,b`: the reasons named, each checked; none given means every reason. */
export function parseReasons(list: string | undefined): DeadLetterReason[] | undefined {
  if (list === undefined) return undefined;
  const reasons = list
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const unknown = reasons.filter((r) => !DEAD_LETTER_REASONS.includes(r as DeadLetterReason));
  if (unknown.length > 0 || reasons.length === 0) {
    throw new Error(
      `--reason takes ${DEAD_LETTER_REASONS.join(', ')} (comma-separated), not "${unknown.join(',') || list}"`,
    );
  }
  return reasons as DeadLetterReason[];
}

/** Failure state that a redrive clears: the message starts again at attempt 1. */
const CLEARED = [
  H.attempt,
  H.error,
  H.errorKind,
  H.reason,
  H.firstFailureAt,
  H.lastFailureAt,
  // The broker's own record of the TTL hops through the retry queues.
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
];

/**
 * The headers of a redriven message: failure state cleared (a fresh set of attempts), the
 * original exchange, routing key and queue kept (a later failure still says where it came from),
 * the redrive counted and dated. Every other property travels unchanged.
 */
export function redriveHeaders(
  headers: Record<string, unknown> | undefined,
  at: Date,
): Record<string, unknown> {
  const next = Object.fromEntries(
    Object.entries(headers ?? {}).filter(([key]) => !CLEARED.includes(key)),
  );
  next[H.redrives] = (Number(headers?.[H.redrives]) || 0) + 1;
  next[H.redrivenAt] = at.toISOString();
  return next;
}
