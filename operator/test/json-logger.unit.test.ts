/**
 * The operator logs through a small logger of its own rather than pino (~8.7 MiB RSS): its lines
 * must be the ones pino wrote for it, with the same redaction, and no log call may ever throw.
 */
import pino from 'pino';
import { createJsonLogger, type Logger } from '../src/observability/json-logger';

type Line = Record<string, unknown>;

/** A logger writing to an array, and its lines parsed without their `time`. */
function collect(level = 'trace', bindings: object = { component: 'operator' }) {
  const raw: string[] = [];
  const log = createJsonLogger(bindings, level, { write: (line) => raw.push(line) });
  const lines = () => raw.map((line) => withoutTime(JSON.parse(line) as Line));
  return { log, raw, lines };
}

function withoutTime({ time, ...rest }: Line): Line {
  expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  return rest;
}

/** The same options as the operator's pino logger (observability/log.ts). */
function pinoLogger(write: (line: string) => void) {
  return pino(
    {
      level: 'trace',
      base: { component: 'operator' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          ...['password', 'credentials', 'authorization', 'data'].flatMap((k) => [k, `*.${k}`]),
        ],
        censor: '[redacted]',
      },
    },
    { write },
  );
}

class KubeApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

describe('the operator JSON logger', () => {
  it.each<[string, (log: Logger) => void, Line]>([
    ['(msg)', (log) => log.info('caches synced'), { msg: 'caches synced' }],
    ['(fields, msg)', (log) => log.info({ port: 8080 }, 'serving'), { port: 8080, msg: 'serving' }],
    ['(fields)', (log) => log.info({ port: 8080 }), { port: 8080 }],
    ['()', (log) => log.info(), {}],
    ['(null, msg)', (log) => log.info(null, 'm'), { msg: 'm' }],
    ['(undefined, msg)', (log) => log.info(undefined, 'm'), { msg: 'm' }],
    [
      '({ err: String(e), path }, msg)',
      (log) => log.info({ err: 'KubeApiError: gone', path: '/apis/x' }, 'watch failed; retrying'),
      { err: 'KubeApiError: gone', path: '/apis/x', msg: 'watch failed; retrying' },
    ],
    [
      'fields that JSON drops or changes',
      (log) => log.info({ u: undefined, f: () => 1, nan: NaN, d: new Date(0) }, 'm'),
      { nan: null, d: '1970-01-01T00:00:00.000Z', msg: 'm' },
    ],
  ])('writes the call %s as one line', (_shape, call, expected) => {
    const { log, raw, lines } = collect();
    call(log);
    expect(raw).toHaveLength(1);
    expect(raw[0]).toMatch(/^\{.*\}\n$/s);
    expect(raw[0]!.split('\n')).toHaveLength(2);
    expect(lines()).toEqual([{ level: 'info', component: 'operator', ...expected }]);
    // Field order: level, time, the bindings, the call's fields, msg.
    expect(Object.keys(JSON.parse(raw[0]!) as Line)).toEqual([
      'level',
      'time',
      'component',
      ...Object.keys(expected),
    ]);
  });

  const methods = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
  it.each([
    ['trace', methods],
    ['debug', methods.slice(1)],
    ['info', methods.slice(2)],
    ['warn', methods.slice(3)],
    ['error', methods.slice(4)],
    ['fatal', methods.slice(5)],
    ['silent', []],
  ])('at level %s writes %j only', (level, written) => {
    const { log, lines } = collect(level);
    for (const method of methods) log[method](method);
    expect(lines().map((line) => [line.level, line.msg])).toEqual(written.map((m) => [m, m]));
    expect(log.level).toBe(level);
    for (const method of methods) expect(log.isLevelEnabled(method)).toBe(written.includes(method));
    expect(log.isLevelEnabled('verbose')).toBe(false);
  });

  it('refuses an unknown level, naming it and the valid ones', () => {
    expect(() => createJsonLogger({}, 'verbose')).toThrow(
      'unknown log level "verbose"; expected one of: trace, debug, info, warn, error, fatal, silent',
    );
    expect(() => createJsonLogger({}, 'INFO')).toThrow(/"INFO"/);
    expect(() => createJsonLogger({}, 'toString')).toThrow(/"toString"/);
  });

  it('adds child bindings after the parent bindings, keeping level and destination', () => {
    const { log, raw, lines } = collect('info');
    const child = log.child({ controller: 'topology' });
    const grandchild = child.child({ key: 'ns/orders', controller: 'again' });
    child.debug('filtered');
    child.info({ n: 1 }, 'child');
    grandchild.info('grandchild');
    log.info('parent');
    expect(child.level).toBe('info');
    expect(lines()).toEqual([
      { level: 'info', component: 'operator', controller: 'topology', n: 1, msg: 'child' },
      {
        level: 'info',
        component: 'operator',
        controller: 'again',
        key: 'ns/orders',
        msg: 'grandchild',
      },
      { level: 'info', component: 'operator', msg: 'parent' },
    ]);
    // Like pino, a rebound key is written twice; JSON.parse keeps its first place, last value.
    expect(raw[1]).toContain('"controller":"topology","key":"ns/orders","controller":"again"');
  });

  it('serialises an Error like pino: type, message, stack, own properties, causes', () => {
    const { log, lines } = collect();
    const error = new KubeApiError('storage is (re)initializing', 503);
    log.warn({ err: error, path: '/apis' }, 'watch failed; retrying');
    log.warn({ err: error }); // no message: the error's
    log.error(error); // an Error alone is logged as { err }
    log.error(error, 'outer');
    const cause = new Error('ECONNREFUSED');
    log.warn({ err: new Error('broker unreachable', { cause }) }, 'with a cause');
    log.warn({ err: new AggregateError([cause], 'all failed') }, 'aggregate');
    const err = { type: 'KubeApiError', message: error.message, stack: error.stack, status: 503 };
    expect(lines()).toEqual([
      { level: 'warn', component: 'operator', err, path: '/apis', msg: 'watch failed; retrying' },
      { level: 'warn', component: 'operator', err, msg: error.message },
      { level: 'error', component: 'operator', err, msg: error.message },
      { level: 'error', component: 'operator', err, msg: 'outer' },
      expect.objectContaining({
        err: {
          type: 'Error',
          message: 'broker unreachable: ECONNREFUSED',
          stack: expect.stringMatching(
            /^Error: broker unreachable\n[^]*\ncaused by: Error: ECONNREF/,
          ),
        },
      }),
      expect.objectContaining({
        err: expect.objectContaining({
          type: 'AggregateError',
          aggregateErrors: [{ type: 'Error', message: 'ECONNREFUSED', stack: cause.stack }],
        }),
      }),
    ]);
  });

  it('serialises an Error under any key, and one that refers to itself', () => {
    const { log, lines } = collect();
    const error = Object.assign(new Error('loop'), { code: 'E_LOOP' }) as Error & { self?: Error };
    error.self = error;
    log.warn({ reason: error }, 'm');
    expect(lines()[0]!.reason).toEqual({
      type: 'Error',
      message: 'loop',
      stack: error.stack,
      code: 'E_LOOP',
    });
  });

  it('censors the secret keys at the top level and one level down, in fields and bindings', () => {
    const { log, lines } = collect('info', { component: 'operator', password: 'b' });
    log.info(
      {
        password: 'p',
        credentials: { user: 'u' },
        authorization: 0,
        data: null,
        user: { name: 'u', password: 'p', data: 'd', authorization: 'a', credentials: undefined },
        err: Object.assign(new Error('refused'), { data: 'payload' }),
      },
      'm',
    );
    log.child({ broker: { password: 'c' } }).info('child');
    const [first, second] = lines();
    expect(first).toMatchObject({
      password: '[redacted]',
      credentials: '[redacted]',
      authorization: '[redacted]',
      data: '[redacted]',
      user: {
        name: 'u',
        password: '[redacted]',
        data: '[redacted]',
        authorization: '[redacted]',
        credentials: '[redacted]',
      },
      err: { message: 'refused', data: '[redacted]' },
    });
    expect(second).toMatchObject({ password: '[redacted]', broker: { password: '[redacted]' } });
  });

  it('leaves other keys alone: other names, deeper levels, arrays, and the caller’s objects', () => {
    const { log, lines } = collect();
    const user = { name: 'u', password: 'p' };
    const fields = {
      Password: 'p',
      passwords: 'p',
      dataset: 'd',
      user,
      deep: { user: { password: 'deep' } },
      list: [{ password: 'in an array' }],
      secret: undefined,
    };
    log.info(fields, 'm');
    expect(lines()[0]).toEqual({
      level: 'info',
      component: 'operator',
      Password: 'p',
      passwords: 'p',
      dataset: 'd',
      user: { name: 'u', password: '[redacted]' },
      deep: { user: { password: 'deep' } },
      list: [{ password: 'in an array' }],
      msg: 'm',
    });
    expect(user.password).toBe('p');
  });

  it('never throws for a cycle, a bigint or a throwing toJSON', () => {
    const { log, lines } = collect();
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    const shared = { x: 1 };
    log.info({ cycle, n: 12345678901234567890n }, 'odd values');
    log.info({ twice: [shared, shared] }, 'a repeated object is no cycle');
    log.info(
      {
        bad: {
          toJSON: () => {
            throw new Error('no JSON');
          },
        },
      },
      'throwing toJSON',
    );
    log.info({ port: 1 }, 'after');
    expect(lines()).toEqual([
      {
        level: 'info',
        component: 'operator',
        cycle: { a: 1, self: '[Circular]' },
        n: '12345678901234567890',
        msg: 'odd values',
      },
      {
        level: 'info',
        component: 'operator',
        twice: [{ x: 1 }, { x: 1 }],
        msg: expect.any(String),
      },
      { level: 'info', component: 'operator', logError: 'no JSON' },
      { level: 'info', component: 'operator', port: 1, msg: 'after' },
    ]);
  });

  it('writes to process.stdout by default', () => {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      createJsonLogger({ component: 'operator' }, 'info').info('to stdout');
      expect(write).toHaveBeenCalledTimes(1);
      expect(write.mock.calls[0]![0]).toMatch(
        /^\{"level":"info","time":"[^"]+","component":"operator","msg":"to stdout"\}\n$/,
      );
    } finally {
      write.mockRestore();
    }
  });

  describe('writes what pino writes', () => {
    // Built once, so both loggers see the same stacks.
    const error = new KubeApiError('storage is (re)initializing', 503);
    const caused = new Error('a', { cause: error });
    const aggregate = new AggregateError([error], 'agg');
    const withSecret = Object.assign(new Error('e'), { authorization: 'Bearer x' });
    const cycle: Record<string, unknown> = { k: 1 };
    cycle.next = { back: cycle };
    const calls: [string, (log: Logger) => void][] = [
      ['(msg)', (log) => log.info('caches synced; serving /healthz /readyz /metrics')],
      ['(fields, msg)', (log) => log.info({ port: 8080, user: 'keda' }, 'serving')],
      ['(fields)', (log) => log.warn({ migration: 'ns/m' })],
      ['()', (log) => log.info()],
      ['(null, msg)', (log) => log.info(null, 'm')],
      ['a string err', (log) => log.warn({ err: String(error), path: '/apis/x' }, 'watch failed')],
      ['an Error err', (log) => log.warn({ err: error, path: '/apis/x' }, 'watch failed')],
      ['an Error err, no msg', (log) => log.warn({ err: error })],
      ['an Error alone', (log) => log.error(error)],
      ['an Error and msg', (log) => log.error(error, 'outer')],
      ['an Error with a cause', (log) => log.warn({ err: caused }, 'c')],
      ['an AggregateError', (log) => log.warn({ err: aggregate }, 'agg')],
      [
        'secrets at both levels',
        (log) =>
          log.info(
            {
              password: 'p',
              data: { password: 'x' },
              broker: { url: 'amqp://u:***@h', password: 's', credentials: { u: 1 } },
              deep: { a: { password: 'kept' } },
              list: [{ data: 'kept' }],
              keyed: Object.assign(['an array stays one'], { password: 'p' }),
              err: withSecret,
              authorization: undefined,
              Password: 'kept',
            },
            'secrets',
          ),
      ],
      ['JSON edge values', (log) => log.info({ d: new Date(0), nan: NaN, f: () => 1, s: 'a"\n' })],
      ['strings that need escaping', (log) => log.info({ 'odd "key"': '\u2028\t' }, 'é "q"\n')],
      ['fields named like the line keys', (log) => log.info({ component: 'x', msg: 'f' }, 'arg')],
      ['a field msg and no msg', (log) => log.info({ msg: 'from the fields' })],
      ['child bindings', (log) => log.child({ controller: 't', data: 'd' }).info({ a: 1 }, 'c')],
      ['nested children', (log) => log.child({ a: 1 }).child({ a: 2, b: 3 }).warn('cc')],
      [
        'every level',
        (log) =>
          ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].forEach((l) => log[l as 'info'](l)),
      ],
      ['a cycle that pino also prints as [Circular]', (log) => log.info({ c: { a: cycle } }, 'x')],
    ];

    it.each(calls)('for %s', (_name, call) => {
      const ours: string[] = [];
      const theirs: string[] = [];
      call(createJsonLogger({ component: 'operator' }, 'trace', { write: (l) => ours.push(l) }));
      call(pinoLogger((line) => theirs.push(line)) as unknown as Logger); // its `level` is wider
      const mask = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');
      const entries = (line: string) => Object.entries(withoutTime(JSON.parse(line) as Line));
      expect(ours.map(entries)).toEqual(theirs.map(entries)); // values and key order
      expect(ours.map(mask)).toEqual(theirs.map(mask)); // byte for byte, duplicate keys too
    });
  });
});
