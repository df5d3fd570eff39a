import type { RetryPolicySpec } from '@warren/crds';
import { parseDuration } from '@warren/crds';

/**
 * The delay before each retry, in milliseconds: `delays[n - 1]` precedes attempt n + 1, so
 * there are maxAttempts - 1 of them. Exponential delays are initialDelay * multiplier^(n-1),
 * rounded to whole milliseconds and capped at maxDelay.
 */
export function retryDelays(spec: RetryPolicySpec): number[] {
  const initial = parseDuration(spec.backoff.initialDelay);
  const max = parseDuration(spec.backoff.maxDelay);
  return Array.from({ length: spec.maxAttempts - 1 }, (_, index) => {
    const delay =
      spec.backoff.type === 'fixed'
        ? initial
        : Math.round(initial * spec.backoff.multiplier ** index);
    return Math.min(delay, max);
  });
}
