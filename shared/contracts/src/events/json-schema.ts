/**
 * JSON Schemas (draft-07) of what travels on the broker, generated from the zod contracts with
 * zod's own `z.toJSONSchema`: the message body (the envelope with the payload of one event type)
 * and the AMQP headers. Nothing here is written by hand, so a contract change changes them.
 * The AsyncAPI document (`warren asyncapi`) embeds them.
 */
import { z } from 'zod';
import { DEAD_LETTER_REASONS, WARREN_HEADERS } from '../topology';
import { EnvelopeSchema } from './envelope';
import { EVENT_CONTRACTS, type EventType } from './registry';

export type JsonSchema = Record<string, unknown>;

const header = WARREN_HEADERS;
const isoTime = z.iso.datetime({ offset: true });

/** AMQP headers of an event message. Only the correlation id is always there; the rest appear once it failed or was redriven. */
export const EventHeadersSchema = z.object({
  [header.correlationId]: EnvelopeSchema.shape.correlationId.describe(
    'The envelope correlationId, mirrored so tools can read it without parsing the body',
  ),
  [header.attempt]: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Delivery attempt of this message, 1 (or absent) on first delivery'),
  [header.error]: z.string().max(1000).optional().describe('Message of the latest failure'),
  [header.errorKind]: z
    .string()
    .optional()
    .describe(
      'Error kind (name or code) of the latest failure, matched against nonRetryableErrors',
    ),
  [header.reason]: z
    .enum(DEAD_LETTER_REASONS)
    .optional()
    .describe('Why the message was dead-lettered (dead-letter queue only)'),
  [header.originalExchange]: z
    .string()
    .optional()
    .describe('Exchange of the first failed delivery'),
  [header.originalRoutingKey]: z
    .string()
    .optional()
    .describe('Routing key of the first failed delivery'),
  [header.originalQueue]: z.string().optional().describe('Queue whose consumer failed it'),
  [header.firstFailureAt]: isoTime.optional().describe('When it failed first'),
  [header.lastFailureAt]: isoTime.optional().describe('When it failed last'),
  [header.redrives]: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('How often `warren redrive` sent it back from the dead-letter queue'),
  [header.redrivenAt]: isoTime.optional().describe('When it was last redriven'),
});

function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  const { $schema: _draft, ...rest } = z.toJSONSchema(schema, { target: 'draft-7' }) as JsonSchema;
  return rest;
}

/** The message body of one known event type: the envelope, its type and version fixed, with the payload's contract. */
export function eventMessageJsonSchema(type: EventType): JsonSchema {
  const contract = EVENT_CONTRACTS[type];
  return jsonSchemaOf(
    EnvelopeSchema.extend({
      type: z.literal(type),
      version: z.literal(contract.version),
      payload: contract.payload,
    }),
  );
}

/** The body of an event type without a contract in this package: the envelope, payload unchecked. */
export function uncontractedMessageJsonSchema(type: string): JsonSchema {
  return jsonSchemaOf(EnvelopeSchema.extend({ type: z.literal(type) }));
}

export function eventHeadersJsonSchema(): JsonSchema {
  return jsonSchemaOf(EventHeadersSchema);
}
