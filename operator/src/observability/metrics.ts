import { Counter, Gauge, Histogram, Registry } from './metric-registry';
import { registerProcessMetrics } from './process-metrics';

/** Every metric the operator exports; documented in the README's Operations section. */
export function createOperatorMetrics(registry = new Registry()) {
  registerProcessMetrics(registry, 'warren_operator_');
  const labels = ['kind'] as const;
  return {
    registry,
    reconciles: new Counter({
      name: 'warren_reconcile_total',
      help: 'Reconciles run, by resource kind and result (success, error, requeue).',
      labelNames: [...labels, 'result'],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'warren_reconcile_duration_seconds',
      help: 'Time spent in one reconcile, by resource kind.',
      labelNames: labels,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: 'warren_reconcile_errors_total',
      help: 'Reconciles that failed, by resource kind and reason.',
      labelNames: [...labels, 'reason'],
      registers: [registry],
    }),
    driftRepairs: new Counter({
      name: 'warren_drift_repairs_total',
      help: 'Broker objects found missing or changed out of band and repaired, by object type.',
      labelNames: ['object'],
      registers: [registry],
    }),
    brokerRequests: new Counter({
      name: 'warren_broker_http_requests_total',
      help: 'Calls to the RabbitMQ management API, by method.',
      labelNames: ['method'],
      registers: [registry],
    }),
    brokerNotFound: new Counter({
      name: 'warren_broker_http_not_found_total',
      help: 'Calls to the RabbitMQ management API answered 404 Not Found (a delete pass makes none: what goes with a queue or user is not deleted again).',
      registers: [registry],
    }),
    brokerEventsSubscribed: new Gauge({
      name: 'warren_broker_events_subscribed',
      help: '1 while the leader hears the broker events (amq.rabbitmq.event): drift is repaired in seconds; 0 when the rabbitmq_event_exchange plugin is missing or the connection is down, and drift waits for the periodic read-back.',
      registers: [registry],
    }),
    brokerDriftEvents: new Counter({
      name: 'warren_broker_drift_events_total',
      help: 'Broker deletion events for objects Warren wants (each triggers a debounced reconcile), by event (queue.deleted, binding.deleted, user.deleted, ...).',
      labelNames: ['event'],
      registers: [registry],
    }),
    kubeRequests: new Counter({
      name: 'warren_kube_api_requests_total',
      help: 'Requests to the Kubernetes API server (watches excluded), by method and resource (configmaps, eventroutes/status, ...); at an idle resync only GETs, Lease renewals (PUT) and the status PATCH of a route whose brokerReadAt is 10 minutes old.',
      labelNames: ['method', 'resource'],
      registers: [registry],
    }),
    brokerChanges: new Counter({
      name: 'warren_broker_changes_total',
      help: 'Broker objects created, updated or deleted by the operator (zero at an idle resync).',
      registers: [registry],
    }),
    queueMessages: new Gauge({
      name: 'warren_route_queue_messages',
      help: 'Messages in the consumer queue of a route (ready + unacknowledged), read back on resync.',
      labelNames: ['namespace', 'route', 'queue'],
      registers: [registry],
    }),
    queueConsumers: new Gauge({
      name: 'warren_route_queue_consumers',
      help: 'Consumers attached to the consumer queue of a route.',
      labelNames: ['namespace', 'route', 'queue'],
      registers: [registry],
    }),
    deadLetterMessages: new Gauge({
      name: 'warren_route_dead_letter_messages',
      help: 'Messages in the dead-letter queue of a route.',
      labelNames: ['namespace', 'route', 'queue'],
      registers: [registry],
    }),
    migrationRuns: new Counter({
      name: 'warren_migration_runs_total',
      help: 'DatabaseMigration Jobs finished, by result (succeeded, failed).',
      labelNames: ['result'],
      registers: [registry],
    }),
    migrationDuration: new Histogram({
      name: 'warren_migration_duration_seconds',
      help: 'Run time of a DatabaseMigration Job (start to finish), by result.',
      labelNames: ['result'],
      buckets: [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    migrationJobsCreated: new Counter({
      name: 'warren_migration_jobs_created_total',
      help: 'DatabaseMigration Jobs created by the operator.',
      registers: [registry],
    }),
    workQueueDepth: new Gauge({
      name: 'warren_work_queue_depth',
      help: 'Keys waiting in the operator work queue.',
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'warren_leader',
      help: '1 when this replica holds the leader Lease, else 0.',
      registers: [registry],
    }),
  };
}

export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;
