import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { EVENT_CONTRACTS, isEventType, type EventType, type PayloadOf } from './registry';

/** The fields every event carries, whatever its type. */
export const EnvelopeSchema = z.object({
  id: z.uuid(),
  type: z.string().min(1),
  version: z.number().int().positive(),
  occurredAt: z.iso.datetime({ offset: true }),
  correlationId: z.string().min(1).max(200),
  /** The id of the event that caused this one; null for events started by a request. */
  causationId: z.string().min(1).max(200).nullable(),
  /** The service that published it. */
  source: z.string().min(1).max(100),
  payload: z.unknown(),
});

export interface EventEnvelope<T extends EventType = EventType> {
  id: string;
  type: T;
  version: number;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  source: string;
  payload: PayloadOf<T>;
}

/** Any known event, narrowed by `type`. */
export type AnyEvent = { [T in EventType]: EventEnvelope<T> }[EventType];

/** An event that breaks its contract; `issues` name each offending field by its path. */
export class ContractError extends Error {
  override readonly name = 'ContractError';
  constructor(readonly issues: { path: string; message: string }[]) {
    super(`event breaks its contract: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}

function pathOf(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  }
  return out || '(root)';
}

function check<S extends z.ZodType>(schema: S, value: unknown, prefix: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ContractError(
      result.error.issues.map((issue) => ({
        path: pathOf(prefix, issue.path),
        message: issue.message,
      })),
    );
  }
  return result.data;
}

/**
 * Validates an envelope and its payload against the contract of its type and version.
 * Throws a ContractError naming the field on any mismatch, unknown type or unknown version.
 */
export function parseEvent(value: unknown): AnyEvent {
  const envelope = check(EnvelopeSchema, value, '');
  if (!isEventType(envelope.type)) {
    throw new ContractError([{ path: 'type', message: `unknown event type "${envelope.type}"` }]);
  }
  const contract = EVENT_CONTRACTS[envelope.type];
  if (envelope.version !== contract.version) {
    throw new ContractError([
      {
        path: 'version',
        message: `${envelope.type} has contract version ${contract.version}, got ${envelope.version}`,
      },
    ]);
  }
  const payload = check(contract.payload as z.ZodType, envelope.payload, 'payload');
  return { ...envelope, payload } as AnyEvent;
}

export interface NewEventOptions {
  source: string;
  correlationId: string;
  causationId?: string | null;
  id?: string;
  occurredAt?: Date;
}

/** Builds a valid envelope for a payload (validated, so a bad event never reaches the outbox). */
export function createEvent<T extends EventType>(
  type: T,
  payload: PayloadOf<T>,
  options: NewEventOptions,
): EventEnvelope<T> {
  return parseEvent({
    id: options.id ?? randomUUID(),
    type,
    version: EVENT_CONTRACTS[type].version,
    occurredAt: (options.occurredAt ?? new Date()).toISOString(),
    correlationId: options.correlationId,
    causationId: options.causationId ?? null,
    source: options.source,
    payload,
  }) as EventEnvelope<T>;
}
