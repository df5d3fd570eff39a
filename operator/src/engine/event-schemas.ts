/**
 * The JSON Schemas the event catalogue embeds, from a module generated at build time out of
 * @warren/contracts' zod contracts (`npm run generate -w @warren/operator`, checked by a unit
 * test): the running operator never loads zod, about 10 MiB of its memory. Each call returns a
 * fresh copy, so no two places of a document share an object (YAML would write an alias).
 */
import { EVENT_SCHEMAS } from './event-schemas.generated';

export type ContractedEventType = keyof typeof EVENT_SCHEMAS.messages;

/** The event types with a contract in @warren/contracts. */
export const CONTRACTED_EVENT_TYPES = Object.keys(EVENT_SCHEMAS.messages) as ContractedEventType[];

export function hasContract(type: string): type is ContractedEventType {
  return Object.hasOwn(EVENT_SCHEMAS.messages, type);
}

export function contractVersion(type: ContractedEventType): number {
  return EVENT_SCHEMAS.messages[type].version;
}

type JsonSchema = Record<string, unknown>;

/** The message body of a contracted type: the envelope with its type, version and payload fixed. */
export function eventMessageSchema(type: ContractedEventType): JsonSchema {
  return structuredClone(EVENT_SCHEMAS.messages[type].schema) as JsonSchema;
}

/** The body of a type without a contract: the envelope with its type fixed, the payload unchecked. */
export function uncontractedMessageSchema(type: string): JsonSchema {
  const schema = structuredClone(EVENT_SCHEMAS.envelope) as JsonSchema & {
    properties: Record<string, unknown>;
  };
  schema.properties.type = { type: 'string', const: type };
  return schema;
}

/** The AMQP headers of an event message. */
export function eventHeadersSchema(): JsonSchema {
  return structuredClone(EVENT_SCHEMAS.headers) as JsonSchema;
}
