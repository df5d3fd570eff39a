/**
 * The catalogue's event schemas come from a generated module, so the running operator need not
 * load zod: they must be exactly what the zod contracts give today.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  EVENT_CONTRACTS,
  EVENT_TYPES,
  eventHeadersJsonSchema,
  eventMessageJsonSchema,
  uncontractedMessageJsonSchema,
} from '@warren/contracts';
import {
  CONTRACTED_EVENT_TYPES,
  contractVersion,
  eventHeadersSchema,
  eventMessageSchema,
  hasContract,
  uncontractedMessageSchema,
} from '../src/engine/event-schemas';
import { eventSchemasSource } from '../src/engine/event-schemas.source';

/** order.created's required payload fields, read from the generator's (unformatted) source. */
function payloadRequired(source: string): string[] {
  const json = source.slice(source.indexOf('{'), source.lastIndexOf('}') + 1);
  const schemas = JSON.parse(json) as {
    messages: Record<string, { schema: { properties: { payload: { required: string[] } } } }>;
  };
  return schemas.messages['order.created']!.schema.properties.payload.required;
}

describe('the generated event schemas', () => {
  it('name every contracted type, with its version and the schema zod gives', () => {
    expect(CONTRACTED_EVENT_TYPES).toEqual(EVENT_TYPES);
    for (const type of EVENT_TYPES) {
      expect(hasContract(type)).toBe(true);
      expect(contractVersion(type)).toBe(EVENT_CONTRACTS[type].version);
      expect(eventMessageSchema(type)).toEqual(eventMessageJsonSchema(type));
    }
    expect(eventHeadersSchema()).toEqual(eventHeadersJsonSchema());
  });

  it('give an uncontracted type the envelope with its own type, as zod does', () => {
    expect(hasContract('inventory.reserved')).toBe(false);
    expect(hasContract('toString')).toBe(false);
    expect(uncontractedMessageSchema('inventory.reserved')).toEqual(
      uncontractedMessageJsonSchema('inventory.reserved'),
    );
  });

  it('are fresh copies: a caller changing one changes no other', () => {
    const first = uncontractedMessageSchema('a.b') as { properties: { type: unknown } };
    uncontractedMessageSchema('c.d');
    expect(first.properties.type).toEqual({ type: 'string', const: 'a.b' });
    expect(eventMessageSchema(EVENT_TYPES[0]!)).not.toBe(eventMessageSchema(EVENT_TYPES[0]!));
  });

  it('follow a contract change at the next generation (the check below fails until then)', () => {
    const before = eventSchemasSource();
    const shape = EVENT_CONTRACTS['order.created'].payload.shape as Record<string, unknown>;
    const original = shape.currency;
    try {
      delete shape.currency;
      expect(payloadRequired(eventSchemasSource())).not.toContain('currency');
      expect(payloadRequired(before)).toContain('currency');
    } finally {
      shape.currency = original;
    }
    expect(eventSchemasSource()).toBe(before);
  });

  // Prettier loads plugins with dynamic import, which Jest's module system cannot run.
  it('are committed as the generator writes them (else run `npm run generate -w @warren/operator`)', async () => {
    const result = await promisify(execFile)(
      process.execPath,
      ['--conditions=warren-source', '--import', 'tsx', 'scripts/generate.ts', '--check'],
      { cwd: resolve(__dirname, '..') },
    ).catch((error: { stderr: string; stdout: string; code: number }) => error);
    expect(result).toMatchObject({ stderr: '', stdout: '' });
  }, 60_000);
});
