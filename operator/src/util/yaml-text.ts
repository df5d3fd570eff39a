/**
 * A small YAML 1.2 emitter for JSON data, so that the running operator need not load the `yaml`
 * package (about 7.7 MiB of resident memory) only to write documents out. Block style, two-space
 * indentation, no anchors; every string reads back as itself under YAML 1.2 and 1.1 parsers.
 */

/** A rendered value: one inline scalar, or the lines of a block map or sequence. */
type Rendered = string | string[];

/** Printable ASCII without edge spaces: non-ASCII is quoted, as some of it breaks lines in 1.1. */
const PLAIN_CHARS = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
/** A leading indicator character, or a document end marker. */
const INDICATOR = /^(?:[-?:,[\]{}#&*!|>'"%@`]|\.\.\.)/;
/** Null, YAML 1.1 booleans in any case, and the 1.1 merge and value keys. */
const KEYWORD = /^(?:~|null|true|false|yes|no|on|off|y|n|<<|=)$/i;
/**
 * Anything that starts like a number and uses only characters that numbers (0x, 0o, 0b, 1_000,
 * 1e3, 1.1 base 60) and timestamps can contain, and the digitless floats `yaml` reads under 1.1
 * (`.`, `._`, `e5`, `.e5`): broader than any schema, so nothing plain is read as a number.
 */
const NUMERIC =
  /^[-+]?(?:\.?[0-9][0-9a-fxotz_.:+\- ]*|\.[0-9_.]*(?:e[-+]?[0-9]+)?|e[-+]?[0-9]+|\.inf|\.nan)$/i;
/**
 * Characters JSON.stringify leaves raw but YAML must not see raw: DEL and C1 controls are not
 * printable, U+0085/U+2028/U+2029 are line breaks in 1.1, and U+FEFF is a byte order mark.
 */
const UNSAFE_RAW = /[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/g;
/** Past this length a key must be explicit (`? key`): implicit keys are at most 1024 chars. */
const MAX_IMPLICIT_KEY = 1000;

/** `value` as a YAML document, ending in a newline. Throws a TypeError for non-JSON data. */
export function toYaml(value: unknown): string {
  const rendered = render(value, '$', new Set());
  return (typeof rendered === 'string' ? rendered : rendered.join('\n')) + '\n';
}

/** A string as a scalar: plain when it can only read back as itself, else JSON-quoted. */
function scalar(text: string): string {
  const plain =
    PLAIN_CHARS.test(text) &&
    !INDICATOR.test(text) &&
    !KEYWORD.test(text) &&
    !NUMERIC.test(text) &&
    !text.includes(': ') &&
    !text.includes(' #') &&
    !text.endsWith(':');
  if (plain) return text;
  // A JSON string is a YAML double-quoted scalar once the few raw characters above are escaped.
  return JSON.stringify(text).replace(
    UNSAFE_RAW,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Where a value sits, for error messages: `$.spec.items[0]["a b"]`. */
function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function fail(path: string, what: string): never {
  throw new TypeError(`toYaml: ${path} is not JSON data (${what})`);
}

function render(value: unknown, path: string, ancestors: Set<object>): Rendered {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return scalar(value);
    case 'boolean':
      return String(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : fail(path, String(value));
    case 'object':
      break;
    default:
      return fail(path, typeof value);
  }
  const isArray = Array.isArray(value);
  // A plain object of any realm (Jest's sandbox, a vm context): its prototype's prototype is null.
  const proto: unknown = Object.getPrototypeOf(value);
  if (!isArray && proto !== null && Object.getPrototypeOf(proto) !== null) {
    fail(path, (proto as { constructor?: { name?: string } })?.constructor?.name || 'object');
  }
  // Only ancestors count: the same object reached twice by different routes is written twice.
  if (ancestors.has(value)) fail(path, 'circular reference');
  ancestors.add(value);
  const lines = isArray ? sequence(value, path, ancestors) : map(value, path, ancestors);
  ancestors.delete(value);
  return lines.length > 0 ? lines : isArray ? '[]' : '{}';
}

function sequence(items: unknown[], path: string, ancestors: Set<object>): string[] {
  const lines: string[] = [];
  for (let i = 0; i < items.length; i++) {
    // Like JSON.stringify, a missing item is null (an object value is skipped instead).
    const item = render(items[i] ?? null, childPath(path, i), ancestors);
    if (typeof item === 'string') lines.push(`- ${item}`);
    // A nested block starts on the dash line: `- name: x` then `  value: y`.
    else lines.push(`- ${item[0]}`, ...item.slice(1).map((line) => `  ${line}`));
  }
  return lines;
}

function map(object: object, path: string, ancestors: Set<object>): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined) continue;
    const child = render(value, childPath(path, key), ancestors);
    const text = scalar(key);
    // A long key goes on its own `? ` line, and its value on the `:` line after it.
    const head = text.length > MAX_IMPLICIT_KEY ? ':' : `${text}:`;
    if (head === ':') lines.push(`? ${text}`);
    if (typeof child === 'string') lines.push(`${head} ${child}`);
    else lines.push(head, ...child.map((line) => `  ${line}`));
  }
  return lines;
}
