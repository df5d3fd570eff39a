/**
 * V8's heap growing factor for the operator process. By default V8 lets the old generation grow
 * to up to 4x the live heap before the next full collection; the operator's reconciles make
 * much short-lived garbage (read-backs, plans), so RSS followed that factor, not the live data
 * (500 routes: about 30 MiB live, over 100 MiB of heap). `--heap-growing-percent` bounds it
 * relative to the live heap, so it scales with the topology instead of capping it the way
 * `--max-old-space-size` would. NODE_OPTIONS does not accept this flag, hence here.
 */
import { setFlagsFromString } from 'node:v8';

export const DEFAULT_HEAP_GROWING_PERCENT = 40;

/** WARREN_HEAP_GROWING_PERCENT: a whole number; 0 leaves V8's own heuristics. */
export function heapGrowingPercent(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_HEAP_GROWING_PERCENT;
  if (!/^\d+$/.test(value.trim()))
    throw new Error(
      `WARREN_HEAP_GROWING_PERCENT must be a whole number of percent (0: V8's default), got "${value}"`,
    );
  return Number(value);
}

export function applyHeapGrowing(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
