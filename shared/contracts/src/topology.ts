/**
 * The service topology document: what one service may publish and must consume, as compiled by
 * the Warren engine from EventRoutes and RetryPolicies. `warren topology --service NAME` prints
 * it and the operator publishes it in the ConfigMap `warren-topology-<service>` (key
 * `topology.json`). The messaging module reads it and never declares anything itself.
 *
 * Retry and dead-letter protocol (shared by the engine, which declares, and the consumer, which
 * uses it), for a consumer queue Q:
 * - a handler failure on attempt n < maxAttempts republishes the message to `retry.exchange`
 *   with routing key `retry.levels[i].routingKey`, where the level i is the one whose delay is
 *   `retry.delaysMs[n - 1]`; the TTL retry queue dead-letters it back to Q alone (default
 *   exchange, routing key Q), so no other consumer of the same event sees it again;
 * - the attempt number travels in the header `x-warren-attempt` (1 on first delivery);
 * - after maxAttempts, on a non-retryable error kind, or when the message breaks its contract,
 *   the consumer publishes it to `deadLetter.exchange` with the failure headers below, then acks;
 * - Q itself dead-letters to the same exchange, so broker-side rejections (delivery limit,
 *   nack without requeue) end in the same dead-letter queue.
 *
 * With `retry.strategy: 'broker'` (RabbitMQ 4.3+ delayed retry) there are no retry queues: a
 * handler failure on attempt n < maxAttempts rejects the message with requeue (basic.reject),
 * and Q delays it by `retry.delaysMs[n - 1]` itself. The attempt is 1 + the broker's
 * `x-delivery-count` header (x-warren-attempt is not rewritten; a delivery cut short by a
 * closed channel counts too). Dead-lettering is the same as above.
 */
export const TOPOLOGY_API_VERSION = 'warren.dev/v1alpha1' as const;

export interface ServiceTopology {
  apiVersion: typeof TOPOLOGY_API_VERSION;
  kind: 'ServiceTopology';
  /** The service this document is for (EventRoute `spec.source.service` / `spec.consumer.service`). */
  service: string;
  /** RabbitMQ virtual host holding every object below. */
  vhost: string;
  /** Event types this service may publish, and where each goes. */
  publishes: PublishTarget[];
  /** Queues this service consumes, one per EventRoute whose consumer it is. */
  consumes: ConsumerQueue[];
}

export interface PublishTarget {
  eventType: string;
  exchange: string;
  exchangeType: ExchangeType;
  /** Routing key to publish with (the event type itself). */
  routingKey: string;
  /** EventRoutes (`namespace/name`) that declared this target. */
  routes: string[];
}

export type ExchangeType = 'topic' | 'direct' | 'fanout';
export type QueueType = 'quorum' | 'classic';

export interface ConsumerQueue {
  /** The EventRoute (`namespace/name`) that declared this queue. */
  route: string;
  queue: string;
  queueType: QueueType;
  prefetch: number;
  /** Where the events come from. */
  source: { service: string; exchange: string; exchangeType: ExchangeType };
  /** Event types delivered to this queue (routing patterns for topic exchanges). */
  eventTypes: string[];
  retry: RetryPlan;
  /** Null when the route turned dead-lettering off: failed messages are then dropped after logging. */
  deadLetter: DeadLetterTarget | null;
}

/** How a failed message waits: TTL retry queues (any broker), or the queue's own delayed retry. */
export type RetryStrategy = 'ttl-queues' | 'broker';

/** The header a RabbitMQ quorum queue counts failed deliveries in (reject with requeue, closed channel). */
export const BROKER_DELIVERY_COUNT_HEADER = 'x-delivery-count';

export interface RetryPlan {
  /** The RetryPolicy (`namespace/name`), or null when the route has none (one attempt). */
  policy: string | null;
  /** `broker`: Q delays a rejected message itself; `exchange` is empty and `levels` too. */
  strategy: RetryStrategy;
  /** Total deliveries to the handler, first one included. */
  maxAttempts: number;
  /** Delay before attempt n + 1 is `delaysMs[n - 1]`; length maxAttempts - 1. */
  delaysMs: number[];
  /** Error kinds (error `name` or `code`) that go to the dead-letter queue at once. */
  nonRetryableErrors: string[];
  /** Exchange to republish a failed message to; empty string when maxAttempts is 1 or the strategy is broker. */
  exchange: string;
  /** One TTL queue per distinct delay, so a short delay never waits behind a long one. */
  levels: RetryLevel[];
}

export interface RetryLevel {
  delayMs: number;
  queue: string;
  routingKey: string;
}

export interface DeadLetterTarget {
  exchange: string;
  queue: string;
}

/** Headers the consumer writes; `warren dead-letters` and `warren redrive` read them back. */
export const WARREN_HEADERS = {
  attempt: 'x-warren-attempt',
  error: 'x-warren-error',
  errorKind: 'x-warren-error-kind',
  reason: 'x-warren-dead-letter-reason',
  originalExchange: 'x-warren-original-exchange',
  originalRoutingKey: 'x-warren-original-routing-key',
  originalQueue: 'x-warren-original-queue',
  firstFailureAt: 'x-warren-first-failure-at',
  lastFailureAt: 'x-warren-last-failure-at',
  correlationId: 'x-correlation-id',
  /** Written by `warren redrive`: how often the message was sent back, and when last. */
  redrives: 'x-warren-redrives',
  redrivenAt: 'x-warren-redriven-at',
} as const;

export const DEAD_LETTER_REASONS = [
  'retries-exhausted',
  'non-retryable',
  'contract-invalid',
] as const;

export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];
