/**
 * V8's heap growing factor for the operator process. By default V8 lets the old generation grow
 * to up to 4x the live heap before the next full collection; the operator's reconciles make
 * much short-lived garbage (read-backs, plans), so RSS followed that factor, not the live data
 * (500 routes: about 30 MiB live, over 100 MiB of heap). `--heap-growing-percent` bounds it
 * relative to the live heap, so it scales with the topology instead of capping it the way
 * `--max-old-space-size` would. NODE_OPTIONS does not accept this flag, hence here.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

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

export const DEFAULT_IDLE_COLLECTION_MS = 1000;

/** WARREN_IDLE_GC_MS: whole milliseconds; 0 turns the idle collection off. */
export function idleCollectionMs(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_IDLE_COLLECTION_MS;
  if (!/^\d+$/.test(value.trim()))
    throw new Error(
      `WARREN_IDLE_GC_MS must be a whole number of milliseconds (0: off), got "${value}"`,
    );
  return Number(value);
}

/**
 * One full collection when the operator falls idle. A reconcile's garbage (read-back payloads,
 * plans, status patches) is promoted before it dies, and V8 collects the old generation only
 * when it next grows by the growing factor, so between reconciles the heap held about twice
 * what is live (500 routes: 15 MiB live in a 28 MiB heap). `poke` after each reconcile: the
 * collection runs `delayMs` after the last one, a few milliseconds once per burst or resync.
 */
export function idleCollection(delayMs: number): { poke(): void; stop(): void } {
  if (delayMs <= 0) return { poke: () => {}, stop: () => {} };
  setFlagsFromString('--expose-gc');
  // A new context reads the flag; the main one was created before it.
  const collect = runInNewContext('gc') as () => void;
  let timer: NodeJS.Timeout | undefined;
  return {
    poke() {
      clearTimeout(timer);
      timer = setTimeout(collect, delayMs).unref();
    },
    stop: () => clearTimeout(timer),
  };
}
