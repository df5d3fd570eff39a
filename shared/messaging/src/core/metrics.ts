import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

/**
 * The module's Prometheus metrics. Several module instances may share one registry (two relays
 * in a test, a publisher and a consumer): a metric already registered under the name is reused.
 */
export class MessagingMetrics {
  readonly published: Counter<'event_type'>;
  readonly confirmed: Counter<'event_type'>;
  readonly consumed: Counter<'event_type' | 'queue'>;
  readonly failed: Counter<'event_type' | 'queue' | 'error_kind'>;
  readonly retried: Counter<'event_type' | 'queue'>;
  readonly deadLettered: Counter<'event_type' | 'queue' | 'reason'>;
  readonly duplicates: Counter<'event_type' | 'queue'>;
  readonly handlerDuration: Histogram<'event_type' | 'queue' | 'outcome'>;
  readonly batchMessages: Histogram<'queue'>;
  readonly relayBatchRows: Histogram;
  readonly outboxBacklog: Gauge;
  readonly outboxOldestAge: Gauge;

  constructor(readonly registry: Registry = new Registry()) {
    this.published = this.metric(
      'warren_messaging_published_total',
      () =>
        new Counter({
          name: 'warren_messaging_published_total',
          help: 'Events handed to the broker',
          labelNames: ['event_type'],
          registers: [registry],
        }),
    );
    this.confirmed = this.metric(
      'warren_messaging_confirmed_total',
      () =>
        new Counter({
          name: 'warren_messaging_confirmed_total',
          help: 'Events the broker confirmed (publisher confirms)',
          labelNames: ['event_type'],
          registers: [registry],
        }),
    );
    this.consumed = this.metric(
      'warren_messaging_consumed_total',
      () =>
        new Counter({
          name: 'warren_messaging_consumed_total',
          help: 'Events handled successfully and acknowledged',
          labelNames: ['event_type', 'queue'],
          registers: [registry],
        }),
    );
    this.failed = this.metric(
      'warren_messaging_failed_total',
      () =>
        new Counter({
          name: 'warren_messaging_failed_total',
          help: 'Handler failures, each attempt counted',
          labelNames: ['event_type', 'queue', 'error_kind'],
          registers: [registry],
        }),
    );
    this.retried = this.metric(
      'warren_messaging_retried_total',
      () =>
        new Counter({
          name: 'warren_messaging_retried_total',
          help: 'Events sent to a retry queue',
          labelNames: ['event_type', 'queue'],
          registers: [registry],
        }),
    );
    this.deadLettered = this.metric(
      'warren_messaging_dead_lettered_total',
      () =>
        new Counter({
          name: 'warren_messaging_dead_lettered_total',
          help: 'Events sent to the dead-letter queue',
          labelNames: ['event_type', 'queue', 'reason'],
          registers: [registry],
        }),
    );
    this.duplicates = this.metric(
      'warren_messaging_duplicates_total',
      () =>
        new Counter({
          name: 'warren_messaging_duplicates_total',
          help: 'Redelivered events skipped because the inbox already had them',
          labelNames: ['event_type', 'queue'],
          registers: [registry],
        }),
    );
    this.handlerDuration = this.metric(
      'warren_messaging_handler_duration_seconds',
      () =>
        new Histogram({
          name: 'warren_messaging_handler_duration_seconds',
          help: 'Handler time including its transaction',
          labelNames: ['event_type', 'queue', 'outcome'],
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers: [registry],
        }),
    );
    this.batchMessages = this.metric(
      'warren_messaging_consumer_batch_messages',
      () =>
        new Histogram({
          name: 'warren_messaging_consumer_batch_messages',
          help: 'Messages handled per consumer batch (one shared transaction under load, 1 when idle)',
          labelNames: ['queue'],
          buckets: [1, 2, 5, 10, 20, 50, 100],
          registers: [registry],
        }),
    );
    this.relayBatchRows = this.metric(
      'warren_outbox_relay_batch_rows',
      () =>
        new Histogram({
          name: 'warren_outbox_relay_batch_rows',
          help: 'Outbox rows claimed per relay batch (one transaction of two round trips; empty claims not counted)',
          buckets: [1, 2, 5, 10, 20, 50, 100],
          registers: [registry],
        }),
    );
    this.outboxBacklog = this.metric(
      'warren_outbox_backlog',
      () =>
        new Gauge({
          name: 'warren_outbox_backlog',
          help: 'Outbox rows not yet confirmed by the broker',
          registers: [registry],
        }),
    );
    this.outboxOldestAge = this.metric(
      'warren_outbox_oldest_age_seconds',
      () =>
        new Gauge({
          name: 'warren_outbox_oldest_age_seconds',
          help: 'Age of the oldest outbox row not yet confirmed by the broker (0 when none)',
          registers: [registry],
        }),
    );
  }

  private metric<M extends Metric>(name: string, create: () => M): M {
    return (this.registry.getSingleMetric(name) as M | undefined) ?? create();
  }
}
