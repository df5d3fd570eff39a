import type { OpenAPIObject } from '@nestjs/swagger';
import { codePointLength } from '@warren/contracts';
import { completeDocument, documentedMethods } from '../src/openapi';
import { TEXT_PATTERN, wholeCents } from '../src/validation';

const document = (): OpenAPIObject => ({
  openapi: '3.0.0',
  info: { title: 't', version: '1' },
  paths: {
    '/healthz': { get: { responses: { '200': { description: 'up' } } } },
    '/things': {
      post: {
        parameters: [
          { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } },
        ],
        requestBody: {
          content: { 'application/json': { schema: { $ref: '#/components/schemas/NewThing' } } },
        },
        responses: { '201': { description: 'made' }, '409': { description: 'exists' } },
      },
    },
    '/things/{id}': {
      get: {
        parameters: [{ name: 'id', in: 'path', required: true }],
        responses: { '200': { description: 'it' } },
      },
    },
  },
  components: {
    schemas: {
      NewThing: { type: 'object', properties: { part: { $ref: '#/components/schemas/Part' } } },
      Part: { type: 'object', properties: {} },
      Thing: { type: 'object', properties: {} },
    },
  },
});

describe('completeDocument', () => {
  const completed = completeDocument(document());
  const post = completed.paths['/things']!.post!;

  it('adds the shared error answers an operation can give, with the error body', () => {
    expect(Object.keys(post.responses).sort()).toEqual(['201', '400', '409', '413', '422', '503']);
    expect(post.responses['409']).toMatchObject({
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
    });
    expect(post.responses['503']).toMatchObject({ headers: { 'Retry-After': { required: true } } });
    expect(Object.keys(completed.paths['/things/{id}']!.get!.responses).sort()).toEqual([
      '200',
      '400',
      '503',
    ]);
  });

  it('never sheds (so never documents 503 for) the health endpoints', () => {
    expect(Object.keys(completed.paths['/healthz']!.get!.responses)).toEqual(['200']);
  });

  it('states the correlation header on every answer and the Idempotency-Key format', () => {
    expect(post.responses['201']).toMatchObject({
      headers: { 'X-Correlation-Id': { required: true } },
    });
    expect(post.parameters![0]).toMatchObject({ schema: { pattern: '^[!-~]+$', maxLength: 200 } });
  });

  it('closes request bodies and what they contain, not response schemas', () => {
    const schemas = completed.components!.schemas!;
    expect(schemas.NewThing).toMatchObject({ additionalProperties: false });
    expect(schemas.Part).toMatchObject({ additionalProperties: false });
    expect(schemas.Thing).not.toHaveProperty('additionalProperties');
  });
});

describe('documentedMethods', () => {
  const [, things, thing] = documentedMethods(document());
  it('matches paths with their parameters and lists the allowed methods', () => {
    expect(things!.pattern.test('/things')).toBe(true);
    expect(things!.pattern.test('/things/')).toBe(true);
    expect(thing!.pattern.test('/things/42')).toBe(true);
    expect(thing!.pattern.test('/things/42/more')).toBe(false);
    expect(things!.allow).toBe('POST');
    expect([...thing!.methods]).toEqual(['GET', 'HEAD']);
  });
});

describe('text and prices', () => {
  const text = new RegExp(TEXT_PATTERN, 'u');
  it('text needs one character that is not ASCII white space, and no NUL', () => {
    expect(text.test('Ada')).toBe(true);
    expect(text.test(' \u00a0 ')).toBe(true);
    expect(text.test(' \t\n')).toBe(false);
    expect(text.test('a\u0000b')).toBe(false);
    expect(text.test('')).toBe(false);
  });

  it('counts characters as JSON Schema does (code points)', () => {
    expect(codePointLength('😀😀')).toBe(2);
    expect(codePointLength('\ud800')).toBe(1);
  });

  it('takes prices with at most 2 decimals, whatever the float noise', () => {
    expect(wholeCents(0.07)).toBe(7);
    expect(wholeCents(1001 * 0.01)).toBe(1001);
    expect(wholeCents(1_000_000)).toBe(100_000_000);
    expect(wholeCents(0.005)).toBeUndefined();
    expect(wholeCents(12.345)).toBeUndefined();
    expect(wholeCents(456006.15038194315)).toBeUndefined(); // found by the contract fuzzer
    expect(wholeCents(456006.15)).toBe(45600615);
  });
});
