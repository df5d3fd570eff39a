/**
 * Capped exponential backoff: `baseMs` after the first failure, doubled per further failure,
 * never above `maxMs`. One rule for every retry of the operator (work queue, informers,
 * migrations, the broker event stream).
 */
export function backoffDelayMs(failures: number, baseMs: number, maxMs: number): number {
  // The exponent is capped only so that a long outage cannot overflow to Infinity.
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, failures - 1), 40));
}
