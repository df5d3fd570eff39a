/** How results are printed: `-o text|json|yaml`, and colour only where it helps and is wanted. */
import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** Standard input, for `-f -` (default: the process's). */
  readStdin?: () => Promise<string>;
  /** stdout is a terminal (colour is then on unless NO_COLOR is set). */
  isTTY?: boolean;
}

/** Structured output prints the same data in either form; text output has its own formatter. */
export function render(format: OutputFormat, data: unknown, text: () => string): string {
  if (format === 'json') return JSON.stringify(data, null, 2);
  if (format === 'yaml') return stringify(data, { aliasDuplicateObjects: false }).trimEnd();
  return text();
}

export interface Paint {
  added(text: string): string;
  changed(text: string): string;
  removed(text: string): string;
  bold(text: string): string;
}

const sgr = (code: number) => (text: string) => `\u001b[${code}m${text}\u001b[0m`;
const same = (text: string) => text;

export const PLAIN: Paint = { added: same, changed: same, removed: same, bold: same };
const COLOURED: Paint = { added: sgr(32), changed: sgr(33), removed: sgr(31), bold: sgr(1) };

/**
 * Colour when stdout is a terminal, never when NO_COLOR is set (no-color.org: any non-empty
 * value); FORCE_COLOR (non-empty, not "0") forces it, e.g. for a CI log that renders colour.
 */
export function paintFor(env: NodeJS.ProcessEnv, isTTY: boolean): Paint {
  if (env.NO_COLOR) return PLAIN;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return COLOURED;
  return isTTY ? COLOURED : PLAIN;
}
