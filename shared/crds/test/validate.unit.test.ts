import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseDuration, formatDuration, validateResource } from '../src';

const FIXTURES = join(__dirname, 'fixtures/invalid');

describe('validateResource', () => {
  it('applies defaults as the API server would', () => {
    const result = validateResource({
      apiVersion: 'warren.dev/v1alpha1',
      kind: 'EventRoute',
      metadata: { name: 'r' },
      spec: {
        exchange: { name: 'user.events' },
        source: { service: 'a' },
        events: ['x.y'],
        consumer: { service: 'b' },
      },
    });
    expect(result.outcome).toBe('valid');
    if (result.outcome !== 'valid' || result.resource.kind !== 'EventRoute') return;
    expect(result.resource.metadata.namespace).toBe('default');
    expect(result.resource.spec).toMatchObject({
      exchange: { type: 'topic' },
      consumer: { queueType: 'quorum', prefetch: 10, autoDelete: false },
      deadLetter: { enabled: true },
      alerts: { queueDepth: 1000, oldestMessageAgeSeconds: 300, deadLetterDepth: 1 },
      deletionPolicy: 'Retain',
    });
  });

  it('defaults a RetryPolicy to three exponential strikes', () => {
    const result = validateResource({
      apiVersion: 'warren.dev/v1alpha1',
      kind: 'RetryPolicy',
      metadata: { name: 'p' },
      spec: {},
    });
    expect(result).toMatchObject({
      outcome: 'valid',
      resource: {
        spec: {
          maxAttempts: 3,
          backoff: { type: 'exponential', initialDelay: '1s', multiplier: 2, maxDelay: '5m' },
          strategy: 'ttl-queues',
          nonRetryableErrors: [],
        },
      },
    });
  });

  it('leaves documents of other API groups alone', () => {
    expect(validateResource({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } })).toEqual(
      { outcome: 'foreign', kind: 'Secret' },
    );
  });

  it('refuses an unknown warren.dev kind and a wrong version, naming the field', () => {
    expect(
      validateResource({
        apiVersion: 'warren.dev/v1alpha1',
        kind: 'Queue',
        metadata: { name: 'q' },
        spec: {},
      }),
    ).toMatchObject({
      outcome: 'invalid',
      errors: [{ field: 'kind' }],
    });
    expect(
      validateResource({
        apiVersion: 'warren.dev/v1',
        kind: 'RetryPolicy',
        metadata: { name: 'q' },
        spec: {},
      }),
    ).toMatchObject({
      outcome: 'invalid',
      errors: [{ field: 'apiVersion' }],
    });
  });

  it('refuses a bad metadata.name', () => {
    const result = validateResource({
      apiVersion: 'warren.dev/v1alpha1',
      kind: 'RetryPolicy',
      metadata: { name: 'Not_Valid' },
      spec: {},
    });
    expect(result).toMatchObject({
      outcome: 'invalid',
      errors: [{ field: 'metadata.name', resource: 'RetryPolicy default/Not_Valid' }],
    });
  });

  const fixtures = readdirSync(FIXTURES).filter((file) => file.endsWith('.yaml'));
  it.each(fixtures)('refuses fixtures/invalid/%s naming the expected field', (file) => {
    const text = readFileSync(join(FIXTURES, file), 'utf8');
    const expected = /^# expect: (\S+)/.exec(text)?.[1];
    expect(expected).toBeDefined();
    const result = validateResource(parse(text));
    expect(result.outcome).toBe('invalid');
    if (result.outcome !== 'invalid') return;
    expect(result.errors.map((error) => error.field)).toContain(expected);
    expect(result.errors[0]!.resource).toMatch(
      /^(EventRoute|RetryPolicy|DatabaseMigration) default\//,
    );
  });
});

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['1s', 1000],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
  ])('%s is %i ms and formats back', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(formatDuration(ms)).toBe(text);
  });

  it('refuses what CEL duration() would not parse', () => {
    expect(() => parseDuration('1 second')).toThrow('invalid duration "1 second"');
  });
});
