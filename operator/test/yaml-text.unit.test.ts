/**
 * The operator writes YAML with its own small emitter, so that it need not load the `yaml`
 * package at runtime. Here `yaml` is only the judge: whatever the emitter writes must read back,
 * under both the YAML 1.2 core schema and YAML 1.1, as exactly the data it was given.
 */
import { runInNewContext } from 'node:vm';
import { parseDocument, stringify } from 'yaml';
import { toYaml } from '../src/util/yaml-text';

/** `text` read by the `yaml` package, which must find it clean: no errors and no warnings. */
function read(text: string, version: '1.1' | '1.2'): unknown {
  const document = parseDocument(text, { version });
  expect(document.errors).toEqual([]);
  expect(document.warnings).toEqual([]);
  return document.toJS();
}

/** `value` must read back as itself (undefined properties dropped, as JSON drops them). */
function expectRoundTrip(value: unknown): void {
  const text = toYaml(value);
  const expected: unknown = JSON.parse(JSON.stringify(value));
  try {
    expect(read(text, '1.2')).toStrictEqual(expected);
    expect(read(text, '1.1')).toStrictEqual(expected);
  } catch (error) {
    throw new Error(`${JSON.stringify(value)} was written as:\n${text}\n${String(error)}`, {
      cause: error,
    });
  }
}

/** Strings that a careless emitter would write plain, and a parser would read as something else. */
const TRICKY_STRINGS = [
  '',
  ' ',
  ' lead',
  'trail ',
  'true',
  'True',
  'FALSE',
  'yes',
  'No',
  'on',
  'OFF',
  'y',
  'N',
  'null',
  'Null',
  '~',
  '1',
  '-1',
  '+1',
  '1.0',
  '.5',
  '.',
  '._',
  '+.',
  'e5',
  'E-3',
  '.e5',
  '-._E+1',
  '-.5',
  '1e3',
  '1E-3',
  '1_000',
  '012',
  '0o17',
  '0x1F',
  '0b101',
  '1:30',
  '190:20:30.15',
  '.inf',
  '-.Inf',
  '.NaN',
  '2024-01-01',
  '2024-01-01T10:00:00Z',
  '2024-1-1 10:00:00 +02:00',
  '3.0.0',
  '-x',
  '- x',
  '--',
  '---',
  '...',
  '... x',
  '?x',
  '? x',
  ':x',
  ',x',
  '[x]',
  '{x}',
  '#x',
  '&x',
  '*x',
  '!x',
  '|x',
  '>x',
  "'x'",
  '"x"',
  '%x',
  '@x',
  '`x',
  'a: b',
  'a:',
  'a #b',
  'a#b',
  'a:b',
  'multi\nline',
  'trailing newline\n',
  'tab\tx',
  'cr\rx',
  'nul\u0000x',
  'del\u007fx',
  'nel\u0085x',
  'line\u2028separator',
  'paragraph\u2029separator',
  'bom\ufeffx',
  'nbsp\u00a0',
  'café',
  '✓ done',
  'emoji 🐇',
  'back\\slash',
  'quote"inside',
  "it's",
  '<<',
  '=',
  'a, b',
  'a [b] {c}',
  'http://example.com/a?b=c#d',
];

describe('toYaml', () => {
  it('writes ordinary data as readable block YAML', () => {
    expect(toYaml({ key: 'value', rate: 1.5, ok: true, none: null })).toBe(
      'key: value\nrate: 1.5\nok: true\nnone: null\n',
    );
    expect(toYaml({ a: { b: { c: 1 } } })).toBe('a:\n  b:\n    c: 1\n');
    expect(toYaml({ env: [{ name: 'x', value: 'v' }] })).toBe('env:\n  - name: x\n    value: v\n');
    expect(toYaml([[1, 2], [], {}, [[3]]])).toBe('- - 1\n  - 2\n- []\n- {}\n- - - 3\n');
    expect(toYaml({})).toBe('{}\n');
    expect(toYaml([])).toBe('[]\n');
    expect(toYaml('plain')).toBe('plain\n');
    expect(toYaml(-2)).toBe('-2\n');
  });

  it('quotes exactly the strings that need it, with JSON quoting', () => {
    expect(toYaml({ a: 'true', b: 'a: b', c: 'multi\nline', d: '', e: 'fine text' })).toBe(
      'a: "true"\nb: "a: b"\nc: "multi\\nline"\nd: ""\ne: fine text\n',
    );
    expect(toYaml({ 'needs: quote': 1, '1': 2, plain_key: 3, y: 4, n: 5 })).toBe(
      '"1": 2\n"needs: quote": 1\nplain_key: 3\n"y": 4\n"n": 5\n',
    );
  });

  it.each(TRICKY_STRINGS.map((s) => [JSON.stringify(s), s]))(
    'reads %s back as itself, as a value, an item and a key',
    (_, s) => {
      expectRoundTrip(s);
      expectRoundTrip({ value: s, list: [s, [s]], nested: { [s]: s } });
      expectRoundTrip([{ [s]: [s] }]);
    },
  );

  it('round-trips nested containers, empty ones, numbers and undefined values', () => {
    expectRoundTrip({
      maps: [{ a: 1, b: { c: [] } }, { d: {} }],
      seqs: [[], [[]], [[1, 'x'], { y: null }]],
      numbers: [0, -1, 0.1, 1e21, -1e-7, 5e-324, Number.MAX_VALUE, 2 ** 53 + 2],
      skipped: undefined,
      kept: [undefined, null],
      unicode: { 'clé ✓': 'valeur ✓', '🐇': '🥕' },
    });
    expect(toYaml({ a: undefined, b: 1 })).toBe('b: 1\n');
    expect(toYaml([undefined])).toBe('- null\n');
  });

  it('writes a key too long to be implicit as an explicit `? key`', () => {
    const long = 'k'.repeat(1500);
    expectRoundTrip({ [long]: 'v', nested: [{ [long]: { a: 1 }, b: 2 }] });
  });

  it('writes the same object twice when it is shared, not an alias', () => {
    const shared = { a: 1 };
    expect(toYaml({ one: shared, two: [shared] })).toBe('one:\n  a: 1\ntwo:\n  - a: 1\n');
  });

  it('reads back ~2000 random JSON values as themselves, under YAML 1.2 and 1.1', () => {
    const random = mulberry32(20240101);
    for (let i = 0; i < 2000; i++) expectRoundTrip(randomJson(random, 3));
  });

  it('writes an AsyncAPI-like document as expected, and as `yaml` itself would', () => {
    const document = {
      asyncapi: '3.0.0',
      info: { title: 'Warren events', version: '1.2.0', description: 'Orders, from checkout' },
      channels: {
        'order.created': {
          address: 'order.created',
          messages: { orderCreated: { $ref: '#/components/messages/orderCreated' } },
        },
      },
      operations: {
        onOrderCreated: {
          action: 'receive',
          channel: { $ref: '#/channels/order.created' },
          tags: [{ name: 'orders' }, { name: 'billing', description: 'Needs: review' }],
        },
      },
      components: {
        messages: {
          orderCreated: {
            contentType: 'application/json',
            payload: {
              type: 'object',
              required: ['orderId', 'total'],
              properties: {
                orderId: { type: 'string', format: 'uuid' },
                total: { type: 'number', minimum: 0 },
                express: { type: 'boolean', default: false },
              },
              additionalProperties: false,
            },
            examples: [],
            headers: {},
          },
        },
      },
    };
    const expected = `asyncapi: "3.0.0"
info:
  title: Warren events
  version: "1.2.0"
  description: Orders, from checkout
channels:
  order.created:
    address: order.created
    messages:
      orderCreated:
        $ref: "#/components/messages/orderCreated"
operations:
  onOrderCreated:
    action: receive
    channel:
      $ref: "#/channels/order.created"
    tags:
      - name: orders
      - name: billing
        description: "Needs: review"
components:
  messages:
    orderCreated:
      contentType: application/json
      payload:
        type: object
        required:
          - orderId
          - total
        properties:
          orderId:
            type: string
            format: uuid
          total:
            type: number
            minimum: 0
          express:
            type: boolean
            default: false
        additionalProperties: false
      examples: []
      headers: {}
`;
    expect(toYaml(document)).toBe(expected);
    expectRoundTrip(document);
    // `yaml` writes version strings such as 3.0.0 plain; toYaml quotes them (see NUMERIC).
    const { asyncapi: _, info: __, ...rest } = document;
    expect(toYaml(rest)).toBe(stringify(rest));
  });

  it('refuses what is not JSON data, naming where it is', () => {
    const circular: Record<string, unknown> = { spec: { items: [] } };
    (circular.spec as { items: unknown[] }).items.push(circular);
    const cases: [unknown, string][] = [
      [circular, 'toYaml: $.spec.items[0] is not JSON data (circular reference)'],
      [{ spec: { x: 1n } }, 'toYaml: $.spec.x is not JSON data (bigint)'],
      [{ items: [1, NaN] }, 'toYaml: $.items[1] is not JSON data (NaN)'],
      [{ a: -Infinity }, 'toYaml: $.a is not JSON data (-Infinity)'],
      [
        { metadata: { created: new Date(0) } },
        'toYaml: $.metadata.created is not JSON data (Date)',
      ],
      [{ 'a b': { f: () => 1 } }, 'toYaml: $["a b"].f is not JSON data (function)'],
      [{ s: Symbol('s') }, 'toYaml: $.s is not JSON data (symbol)'],
      [{ m: new Map() }, 'toYaml: $.m is not JSON data (Map)'],
      [undefined, 'toYaml: $ is not JSON data (undefined)'],
    ];
    for (const [value, message] of cases) {
      expect(() => toYaml(value)).toThrow(new TypeError(message));
    }
  });

  it("accepts plain objects and arrays of another realm (Jest's sandbox, a vm context)", () => {
    const foreign: unknown = runInNewContext('({ a: { b: [1, { c: "d" }] } })');
    expect(toYaml(foreign)).toBe('a:\n  b:\n    - 1\n    - c: d\n');
    expect(() => toYaml(runInNewContext('({ when: new Date(0) })'))).toThrow(
      'toYaml: $.when is not JSON data (Date)',
    );
  });

  it('accepts objects without a prototype', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    expect(toYaml(bare)).toBe('a: 1\n');
  });
});

/** A small seeded PRNG (mulberry32), so that a failing case is the same on every run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [...'ab yzENx0123456789', ...':#- "\'\\\n\t.,[]{}?!&*|>%@`~_+', 'é', '✓', '🐇'];

function randomString(random: () => number): string {
  // Sometimes a tricky string whole or glued to others, so that rare shapes come up often.
  if (random() < 0.25) {
    const pick = () => TRICKY_STRINGS[Math.floor(random() * TRICKY_STRINGS.length)]!;
    return random() < 0.5 ? pick() : pick() + pick();
  }
  let s = '';
  const length = Math.floor(random() * 8);
  for (let i = 0; i < length; i++) s += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return s;
}

function randomNumber(random: () => number): number {
  const n = [
    () => Math.floor(random() * 2000) - 1000,
    () => (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20),
    () => random(),
  ][Math.floor(random() * 3)]!();
  return n === 0 ? 0 : n; // JSON has no -0
}

function randomJson(random: () => number, depth: number): unknown {
  const kind = Math.floor(random() * (depth > 0 ? 7 : 5));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return randomNumber(random);
    case 3:
    case 4:
      return randomString(random);
    case 5:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomJson(random, depth - 1));
    default: {
      const object: Record<string, unknown> = {};
      const size = Math.floor(random() * 4);
      for (let i = 0; i < size; i++) object[randomString(random)] = randomJson(random, depth - 1);
      return object;
    }
  }
}
