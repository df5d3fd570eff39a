/**
 * Drift in seconds: the broker's deletion events for Warren's objects (controller/broker-events.ts
 * decides which) trigger a topology reconcile at once, debounced so a burst (a queue and its
 * bindings, a user and its permissions) runs one. Without the event exchange plugin the
 * operator says so (`warren_broker_events_subscribed` 0, a warning) and relies on the periodic
 * read-back alone.
 */
import { BrokerEventStream, type EventStreamState } from '../broker/event-stream';
import type { DesiredTopology } from '../engine/model';
import type { HealthCondition } from '../observability/http-server';
import type { Logger } from '../observability/log';
import type { OperatorMetrics } from '../observability/metrics';
import {
  brokerEventIndex,
  concernsWarren,
  deletedByRoute,
  DELETION_EVENTS,
  routeObjectIndex,
  type BrokerEvent,
  type BrokerEventIndex,
  type DeletedObject,
  type RouteObjectIndex,
} from './broker-events';

export interface DriftWatchOptions {
  amqpUrl: string;
  /** The vhost of `amq.rabbitmq.event` (WARREN_BROKER_EVENTS_VHOST, default `/`). */
  vhost: string;
  metrics: OperatorMetrics;
  log: Logger;
  enqueue: () => void;
  /** Before the reconcile: what each route lost, by route key, for its status to say at once. */
  onDeleted?: (deleted: Map<string, DeletedObject[]>) => void;
  /** How long a burst of events is gathered into one reconcile; default 100 ms. */
  debounceMs?: number;
}

export class BrokerDriftWatch {
  private index: BrokerEventIndex = new Set();
  private routes: RouteObjectIndex = new Map();
  private events: BrokerEvent[] = [];
  private pending?: NodeJS.Timeout;
  private state?: EventStreamState;
  private readonly stream: BrokerEventStream;

  constructor(private readonly options: DriftWatchOptions) {
    this.stream = new BrokerEventStream({
      amqpUrl: options.amqpUrl,
      vhost: options.vhost,
      routingKeys: DELETION_EVENTS,
      onEvent: (type, headers) => this.onEvent(type, headers),
      onState: (state, error) => this.onState(state, error),
    });
  }

  /** The objects to watch: what the last reconcile wanted on the broker. */
  track(desired: DesiredTopology): void {
    this.index = brokerEventIndex(desired);
    this.routes = routeObjectIndex(desired.routes);
  }

  /** The operator's own health condition: is drift heard in seconds, or only read back? */
  get condition(): HealthCondition {
    const name = 'broker-events';
    const where = `amq.rabbitmq.event in vhost ${this.options.vhost}`;
    switch (this.state) {
      case 'subscribed':
        return { name, ok: true, message: `subscribed to ${where}: drift is repaired in seconds` };
      case 'plugin-missing':
        return {
          name,
          ok: false,
          message: `the broker has no ${where} (enable the rabbitmq_event_exchange plugin): drift is found at the periodic read-back only`,
        };
      case undefined:
        return { name, ok: true, message: 'not listening: only the leader does' };
      default:
        return { name, ok: false, message: `not subscribed (${this.state}): reconnecting` };
    }
  }

  start(): void {
    this.stream.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.pending);
    this.pending = undefined;
    this.events = [];
    this.state = undefined;
    await this.stream.stop();
    this.options.metrics.brokerEventsSubscribed.set(0);
  }

  private onEvent(type: string, headers: Record<string, unknown>) {
    if (!concernsWarren({ type, headers }, this.index)) return;
    this.events.push({ type, headers });
    this.options.metrics.brokerDriftEvents.inc({ event: type });
    this.options.log.info({ event: type }, 'broker event: a Warren object was deleted');
    this.soon();
  }

  private soon() {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      const deleted = deletedByRoute(this.events, this.routes);
      this.events = [];
      if (deleted.size > 0) this.options.onDeleted?.(deleted);
      this.options.enqueue();
    }, this.options.debounceMs ?? 100);
    this.pending.unref?.();
  }

  private onState(state: EventStreamState, error?: string) {
    const { metrics, log } = this.options;
    metrics.brokerEventsSubscribed.set(state === 'subscribed' ? 1 : 0);
    if (state === this.state) return;
    this.state = state;
    if (state === 'subscribed') {
      log.info({ vhost: this.options.vhost }, 'subscribed to the broker events');
      // Anything deleted while no events were heard is found by the reconcile this triggers.
      this.soon();
    } else if (state === 'plugin-missing')
      log.warn(
        { err: error },
        'the broker has no event exchange (enable the rabbitmq_event_exchange plugin): drift is found at the periodic read-back only',
      );
    else log.warn({ err: error }, 'broker events unavailable; reconnecting');
  }
}
