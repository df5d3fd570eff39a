/**
 * What Warren compiles differently per RabbitMQ version. Pure: the version comes in as data
 * (the operator and the CLI read it from the management API's /api/overview), and every
 * difference is named, so the plan can show why a queue has the arguments it has.
 * Each fact here is measured on the broker by shared/testing/test/broker-version-probe.test.ts.
 */
export interface BrokerVersion {
  /** As the broker reports it, e.g. `4.3.6`. */
  raw: string;
  major: number;
  minor: number;
  patch: number;
}

export function parseBrokerVersion(raw: string): BrokerVersion {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(raw.trim());
  if (!match) throw new Error(`"${raw}" is not a RabbitMQ version (major.minor[.patch])`);
  return {
    raw: raw.trim(),
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3] ?? 0),
  };
}

export const atLeast = (version: BrokerVersion, major: number, minor: number, patch = 0) =>
  version.major !== major
    ? version.major > major
    : version.minor !== minor
      ? version.minor > minor
      : version.patch >= patch;

/**
 * The largest `x-delivery-limit`: in effect none. (`-1` is "no limit" only from 4.3 on; 4.0
 * drops a message with it at once.)
 */
export const UNBOUNDED_DELIVERY_LIMIT = 2_147_483_647;

/** What the broker does that Warren's queue arguments must answer. */
export interface BrokerProfile {
  version: BrokerVersion;
  /**
   * 4.0+: quorum queues have a default delivery limit of 20 and dead-letter (or drop) a message
   * returned more often. 4.0 counts every return (nack with requeue, a closed channel);
   * 4.3 counts only returns without a settlement (a closed channel or connection).
   */
  quorumDeliveryLimitDefault: number | null;
  /** Passive declares need some permission on the object (4.2.6+ / 4.3). */
  passiveDeclareNeedsPermission: boolean;
  /**
   * 4.3+: quorum queues delay a returned message themselves (`x-delayed-retry-type`, `-min`,
   * `-max`): RetryPolicy `strategy: broker` needs it.
   */
  delayedRetry: boolean;
}

/** The first RabbitMQ with quorum-queue delayed retry. */
export const DELAYED_RETRY_SINCE = '4.3';

export function brokerProfile(version: string | BrokerVersion): BrokerProfile {
  const v = typeof version === 'string' ? parseBrokerVersion(version) : version;
  return {
    version: v,
    quorumDeliveryLimitDefault: atLeast(v, 4, 0) ? 20 : null,
    passiveDeclareNeedsPermission: atLeast(v, 4, 2, 6),
    delayedRetry: atLeast(v, 4, 3),
  };
}

/** A queue's place in a route's topology, for the arguments that depend on it. */
export type QueueRole = 'consumer' | 'retry' | 'dead-letter';

export interface VersionArguments {
  arguments: Record<string, unknown>;
}

/**
 * The arguments a queue of `role` needs on this broker, beyond Warren's own. Nothing on 3.x (its
 * quorum queues have no default delivery limit), so a 3.10 topology is the same as ever.
 * - consumer queue, 4.0+: no broker delivery limit. Warren counts attempts itself (a header), and
 *   a message returned while a database is down, or by a restarting consumer, must never reach
 *   the dead-letter queue for it.
 * - dead-letter queue, 4.0+: no delivery limit either, or `warren dead-letters` (which returns
 *   the messages it shows) would make the broker drop a dead letter after 20 listings.
 * - retry queue, 4.0+: expired messages go back to the consumer queue at least once
 *   (`x-dead-letter-strategy: at-least-once`, which needs `x-overflow: reject-publish`,
 *   otherwise the broker silently falls back to at-most-once): a leader change never loses one.
 */
export function versionArguments(
  profile: BrokerProfile | undefined,
  role: QueueRole,
  queueType: 'quorum' | 'classic',
): Record<string, unknown> {
  if (!profile || queueType !== 'quorum' || profile.quorumDeliveryLimitDefault === null) return {};
  if (role === 'retry')
    return { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' };
  return { 'x-delivery-limit': UNBOUNDED_DELIVERY_LIMIT };
}

/** One line per difference, for the plan. */
export function describeProfile(profile: BrokerProfile): string[] {
  const lines = [`RabbitMQ ${profile.version.raw}`];
  if (profile.quorumDeliveryLimitDefault !== null) {
    lines.push(
      `quorum queues: default delivery limit ${profile.quorumDeliveryLimitDefault}, so consumer and dead-letter queues get x-delivery-limit ${UNBOUNDED_DELIVERY_LIMIT} (Warren counts attempts itself)`,
      'quorum retry queues: x-dead-letter-strategy at-least-once with x-overflow reject-publish',
    );
  }
  if (profile.delayedRetry)
    lines.push(
      'quorum queues: delayed retry (x-delayed-retry-*), used by RetryPolicies with strategy broker',
    );
  return lines;
}

/**
 * The consumer-queue arguments of RabbitMQ's delayed retry for these delays (fixed or linear,
 * as the CRD allows). Type `failed`: only a rejected message (basic.reject with requeue) or one
 * whose channel closed waits, `min * x-delivery-count` capped at `max`; a nacked one (the
 * consumer's infrastructure-failure path, which must not use an attempt) comes back at once and
 * is not counted. Measured in operator/test/broker-version-probe.test.ts.
 */
export function delayedRetryArguments(delaysMs: readonly number[]): Record<string, unknown> {
  const min = delaysMs[0]!;
  return {
    'x-delayed-retry-type': 'failed',
    'x-delayed-retry-min': min,
    'x-delayed-retry-max': Math.max(...delaysMs),
  };
}
