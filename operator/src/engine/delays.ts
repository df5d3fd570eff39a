import type { RetryPolicySpec } from '@warren/crds';
import { parseDuration } from '@warren/crds/core';

/**
 * The delay before each retry, in milliseconds: `delays[n - 1]` precedes attempt n + 1, so
 * there are maxAttempts - 1 of them. Linear delays are initialDelay * n, exponential delays
 * initialDelay * multiplier^(n-1) rounded to whole milliseconds; both capped at maxDelay. (Linear
 * is what RabbitMQ's delayed retry computes: min(x-delayed-retry-min * x-delivery-count, max).)
 */
export function retryDelays(spec: RetryPolicySpec): number[] {
  const initial = parseDuration(spec.backoff.initialDelay);
  const max = parseDuration(spec.backoff.maxDelay);
  return Array.from({ length: spec.maxAttempts - 1 }, (_, index) => {
    const delay =
      spec.backoff.type === 'fixed'
        ? initial
        : spec.backoff.type === 'linear'
          ? initial * (index + 1)
          : Math.round(initial * spec.backoff.multiplier ** index);
    return Math.min(delay, max);
  });
}
