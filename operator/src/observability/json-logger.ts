/**
 * A dependency-free structured logger for the operator, which must stay well under 100 MiB and
 * so does not load pino (~8.7 MiB RSS). It writes the same lines pino wrote for the operator:
 * `{"level":"warn","time":"<ISO>",<bindings>,<fields>,"msg":"..."}`, one per call.
 */

/** pino's numeric ordering, so `WARREN_LOG_LEVEL` values keep their meaning. */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
export type LevelWithSilent = keyof typeof LEVELS;
export type Level = Exclude<LevelWithSilent, 'silent'>;

/** Keys that can carry a secret: censored at the top level and one level down, as before. */
const SECRET_KEYS = new Set(['password', 'credentials', 'authorization', 'data']);
const CENSOR = '[redacted]';

export type LogFn = {
  (msg: string): void;
  (obj?: object | null, msg?: string): void;
};
export interface Logger extends Record<Level, LogFn> {
  readonly level: LevelWithSilent;
  isLevelEnabled(level: string): boolean;
  child(bindings: object): Logger;
}
/** Receives each line with its trailing '\n'; `process.stdout` is one (synchronous for pipes). */
export type Destination = { write(line: string): void };

/** pino's std err serializer: type, message and stack (with their causes), then own props. */
function serializeError(err: Error, seen = new Set<Error>()): Record<string, unknown> {
  seen.add(err);
  const chain = [err];
  for (let c = err.cause; c instanceof Error && !chain.includes(c); c = c.cause) chain.push(c);
  const out: Record<string, unknown> = {
    type: typeof err.constructor === 'function' ? err.constructor.name : err.name,
    message: chain.map((e) => e.message).join(': '),
    stack: chain.map((e) => e.stack ?? '').join('\ncaused by: '),
  };
  const { errors } = err as { errors?: unknown };
  if (Array.isArray(errors))
    out.aggregateErrors = errors.map((e: unknown) => (e instanceof Error ? serializeError(e) : e));
  for (const key in err) {
    const value: unknown = (err as unknown as Record<string, unknown>)[key];
    if (out[key] !== undefined) continue;
    // Causes are already in message and stack; an error met before would recurse for ever.
    if (!(value instanceof Error)) out[key] = value;
    else if (key !== 'cause' && !seen.has(value)) out[key] = serializeError(value, seen);
  }
  return out;
}

/** A copy of a call's fields with errors serialised and secret keys censored. */
function prepare(fields: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(fields)) {
    const value: unknown = raw instanceof Error ? serializeError(raw) : raw;
    if (SECRET_KEYS.has(key) && value !== undefined && typeof value !== 'function')
      out[key] = CENSOR;
    else if (typeof value !== 'object' || value === null || Array.isArray(value)) out[key] = value;
    else {
      const hidden = Object.keys(value).filter((k) => SECRET_KEYS.has(k));
      out[key] = hidden.length
        ? { ...value, ...Object.fromEntries(hidden.map((k) => [k, CENSOR])) }
        : value;
    }
  }
  return out;
}

/** JSON that never throws for a cycle or a bigint: '[Circular]', and the bigint as a string. */
function safeJson(value: unknown): string | undefined {
  const ancestors: unknown[] = [];
  return JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v !== 'object' || v === null) return v;
    // `this` holds v: whatever is above it on the stack is a finished sibling, not an ancestor.
    while (ancestors.length > 0 && ancestors.at(-1) !== this) ancestors.pop();
    if (ancestors.includes(v)) return '[Circular]';
    ancestors.push(v);
    return v;
  });
}

/** `,"a":1,"b":2`, or '' for no keys: a line is pieced together like pino's. */
function members(fields: object): string {
  const json = safeJson(prepare(fields))!.slice(1, -1);
  return json && `,${json}`;
}

function render(first: unknown, second: unknown): string {
  const [fields, msg]: [Record<string, unknown>, unknown] =
    first instanceof Error
      ? [{ err: first }, second ?? first.message]
      : typeof first === 'object' && first !== null
        ? [first as Record<string, unknown>, second]
        : [{}, first ?? second];
  // pino's default: an error logged without a message lends it its own.
  const message =
    msg === undefined && fields.msg === undefined && fields.err instanceof Error
      ? fields.err.message
      : msg;
  return members(fields) + (message === undefined ? '' : `,"msg":${safeJson(message) ?? 'null'}`);
}

function build(bindings: string, level: LevelWithSilent, destination: Destination): Logger {
  const threshold = LEVELS[level];
  const isLevelEnabled = (name: string) =>
    Object.hasOwn(LEVELS, name) && LEVELS[name as Level] >= threshold;
  const method =
    (name: Level): LogFn =>
    (first?: unknown, second?: unknown) => {
      if (LEVELS[name] < threshold) return;
      let body: string;
      try {
        body = render(first, second);
      } catch (error) {
        // A throwing getter or toJSON must not take the reconcile loop down with it.
        body = `,"logError":${JSON.stringify(error instanceof Error ? error.message : 'unserialisable')}`;
      }
      destination.write(
        `{"level":"${name}","time":"${new Date().toISOString()}"${bindings}${body}}\n`,
      );
    };
  return {
    get level() {
      return level;
    },
    isLevelEnabled,
    child: (more) => build(bindings + members(more), level, destination),
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
  };
}

/** A logger whose every line carries `bindings` (e.g. `{ component }`), from `level` up. */
export function createJsonLogger(
  bindings: object,
  level: string,
  destination: Destination = process.stdout,
): Logger {
  if (!Object.hasOwn(LEVELS, level))
    throw new Error(
      `unknown log level "${level}"; expected one of: ${Object.keys(LEVELS).join(', ')}`,
    );
  return build(members(bindings), level as LevelWithSilent, destination);
}
