/**
 * Warren's Grafana dashboards as data: rows of panels, each a list of PromQL queries over the
 * metric names Warren's parts export and the broker names the engine derives. build.ts turns
 * them into Grafana dashboard JSON with the Grafana Foundation SDK's typed builders.
 */
import { deadLetterQueueName, retryQueueName } from '../engine/naming';

export interface QuerySpec {
  expr: string;
  legend: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  /** Grafana unit id: short, ops, s, percentunit, ... */
  unit: string;
  kind: 'timeseries' | 'stat';
  queries: QuerySpec[];
  /** Anchor on-call links to (README "When an alert fires"): `<dashboard uid>#<panel slug>`. */
  slug: string;
}

export interface VariableSpec {
  name: string;
  label: string;
  /** A Prometheus `label_values(...)` query. */
  query: string;
  /** JavaScript regex the values must match (Grafana applies it), or none. */
  regex?: string;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables: VariableSpec[];
  rows: { title: string; panels: PanelSpec[] }[];
}

const RATE = '$__rate_interval';
const slugOf = (title: string) =>
  title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

function panel(
  title: string,
  description: string,
  unit: string,
  queries: QuerySpec[],
  kind: PanelSpec['kind'] = 'timeseries',
): PanelSpec {
  return { title, description, unit, kind, queries, slug: slugOf(title) };
}

const q = (expr: string, legend: string): QuerySpec => ({ expr, legend });

/** p50 and p99 of a histogram, per `by` labels (besides `le`). */
const quantiles = (histogram: string, selector: string, by: string[] = []): QuerySpec[] =>
  [0.5, 0.99].map((quantile) =>
    q(
      `histogram_quantile(${quantile}, sum by (${['le', ...by].join(', ')}) (rate(${histogram}_bucket{${selector}}[${RATE}])))`,
      [`p${quantile * 100}`, ...by.map((label) => `{{${label}}}`)].join(' '),
    ),
  );

// The route's broker objects, named as the engine names them (naming.ts), from the variables.
const QUEUE = '$queue';
const queueSel = `vhost="$vhost", queue="${QUEUE}"`;
const dlqSel = `vhost="$vhost", queue="${deadLetterQueueName(QUEUE)}"`;
/** Every retry queue of the route: `<queue>.retry.<delay>`. */
const retrySel = `vhost="$vhost", queue=~"${retryQueueName(QUEUE, '.+').replace(/\.(?!\+)/g, '\\\\.')}"`;

/** One route: its consumer queue, retry queues and dead-letter queue, and its consumer's handling. */
export const routeDashboard: DashboardSpec = {
  uid: 'warren-route',
  title: 'Warren / Route',
  description:
    'One EventRoute: its consumer queue (broker), retry and dead-letter queues, and how its consumer service handles the messages. Pick the vhost and the consumer queue (<consumer service>.<route>).',
  variables: [
    {
      name: 'vhost',
      label: 'vhost',
      query: 'label_values(rabbitmq_detailed_queue_consumers, vhost)',
    },
    {
      name: 'queue',
      label: 'consumer queue',
      query: 'label_values(rabbitmq_detailed_queue_consumers{vhost="$vhost"}, queue)',
      // Consumer queues only: not the route's own .dlq and .retry.<delay> queues.
      regex: '/^(?!.*\\.(dlq|retry\\..+)$).+$/',
    },
  ],
  rows: [
    {
      title: 'Queue',
      panels: [
        panel(
          'Queue depth',
          'Messages in the consumer queue: ready and unacknowledged (alert WarrenQueueDepthHigh).',
          'short',
          [
            q(`sum(rabbitmq_detailed_queue_messages_ready{${queueSel}})`, 'ready'),
            q(`sum(rabbitmq_detailed_queue_messages_unacked{${queueSel}})`, 'unacked'),
          ],
        ),
        panel(
          'Consumers',
          'Consumers attached to the queue (alert WarrenQueueWithoutConsumers).',
          'short',
          [q(`sum(rabbitmq_detailed_queue_consumers{${queueSel}})`, 'consumers')],
        ),
        panel(
          'Oldest message age',
          'Age of the head message, from its AMQP timestamp; 0 when the queue is empty (alert WarrenOldestMessageTooOld).',
          's',
          [
            q(
              `(time() - max(rabbitmq_detailed_queue_head_message_timestamp{${queueSel}} > 0)) or (max(rabbitmq_detailed_queue_messages{${queueSel}}) * 0)`,
              'age',
            ),
          ],
        ),
      ],
    },
    {
      title: 'Flow',
      panels: [
        panel(
          'Publish, deliver and ack rates',
          'Messages routed into the queue, delivered to consumers, and acknowledged by them, per second.',
          'ops',
          [
            q(
              `sum(rate(rabbitmq_detailed_queue_messages_published_total{queue_vhost="$vhost", queue="${QUEUE}"}[${RATE}]))`,
              'published',
            ),
            q(
              `sum(rate(rabbitmq_detailed_channel_messages_delivered_ack_total{${queueSel}}[${RATE}]))`,
              'delivered',
            ),
            q(
              `sum(rate(rabbitmq_detailed_channel_messages_acked_total{${queueSel}}[${RATE}]))`,
              'acked',
            ),
          ],
        ),
        panel(
          'Handled by the consumer',
          'Messages the consumer service handled (inbox row written, acked), by event type.',
          'ops',
          [
            q(
              `sum by (event_type) (rate(warren_messaging_consumed_total{queue="${QUEUE}"}[${RATE}]))`,
              '{{event_type}}',
            ),
          ],
        ),
      ],
    },
    {
      title: 'Failures',
      panels: [
        panel(
          'Retry backlog per delay level',
          'Messages waiting in each TTL retry queue of the route (alert WarrenRetryBacklogHigh).',
          'short',
          [q(`sum by (queue) (rabbitmq_detailed_queue_messages{${retrySel}})`, '{{queue}}')],
        ),
        panel(
          'Dead letters',
          "Messages in the route's dead-letter queue (alert WarrenDeadLettersPresent): list them with `warren dead-letters`, send them back with `warren redrive`.",
          'short',
          [q(`sum(rabbitmq_detailed_queue_messages{${dlqSel}})`, 'dead letters')],
        ),
        panel(
          'Failed handling by error kind',
          'Handler failures per second, by error kind (retried unless non-retryable).',
          'ops',
          [
            q(
              `sum by (error_kind) (rate(warren_messaging_failed_total{queue="${QUEUE}"}[${RATE}]))`,
              '{{error_kind}}',
            ),
          ],
        ),
        panel(
          'Dead-lettered by reason',
          'Messages the consumer sent to the dead-letter queue, by reason.',
          'ops',
          [
            q(
              `sum by (reason) (rate(warren_messaging_dead_lettered_total{queue="${QUEUE}"}[${RATE}]))`,
              '{{reason}}',
            ),
          ],
        ),
      ],
    },
    {
      title: 'Consumer',
      panels: [
        panel(
          'Consumer batch size',
          'Messages handled per database transaction (p50, p99).',
          'short',
          quantiles('warren_messaging_consumer_batch_messages', `queue="${QUEUE}"`),
        ),
        panel(
          'Handler duration',
          'Time spent handling one message, by outcome (p50, p99).',
          's',
          quantiles('warren_messaging_handler_duration_seconds', `queue="${QUEUE}"`, ['outcome']),
        ),
      ],
    },
  ],
};

const svc = 'service="$service"';

/** One reference service: its HTTP API, its outbox and relay, its inbox and consumer errors. */
export const serviceDashboard: DashboardSpec = {
  uid: 'warren-service',
  title: 'Warren / Service',
  description:
    "One Warren service (user, order, notification): HTTP, the transactional outbox and its relay, the inbox, errors. The `service` label is the scrape target's (npm start, or the ServiceMonitor's Service name).",
  variables: [
    { name: 'service', label: 'service', query: 'label_values(warren_outbox_backlog, service)' },
  ],
  rows: [
    {
      title: 'HTTP',
      panels: [
        panel('HTTP requests by status', 'Requests per second, by status code.', 'reqps', [
          q(`sum by (status) (rate(http_requests_total{${svc}}[${RATE}]))`, '{{status}}'),
        ]),
        panel(
          'HTTP latency',
          'Request duration, p50 and p99.',
          's',
          quantiles('http_request_duration_seconds', svc),
        ),
        panel('HTTP server errors', 'Share of requests answered 5xx.', 'percentunit', [
          q(
            `(sum(rate(http_requests_total{${svc}, status=~"5.."}[${RATE}])) or vector(0)) / sum(rate(http_requests_total{${svc}}[${RATE}]))`,
            '5xx',
          ),
        ]),
      ],
    },
    {
      title: 'Outbox and relay',
      panels: [
        panel(
          'Outbox backlog',
          'Events written in a transaction and not yet confirmed by the broker.',
          'short',
          [q(`sum(warren_outbox_backlog{${svc}})`, 'backlog')],
        ),
        panel(
          'Outbox oldest age',
          'Age of the oldest unpublished event: grows when the broker is unreachable.',
          's',
          [q(`max(warren_outbox_oldest_age_seconds{${svc}})`, 'oldest')],
        ),
        panel(
          'Relay publishes and confirms',
          'Events the relay published and the broker confirmed, per second.',
          'ops',
          [
            q(`sum(rate(warren_messaging_published_total{${svc}}[${RATE}]))`, 'published'),
            q(`sum(rate(warren_messaging_confirmed_total{${svc}}[${RATE}]))`, 'confirmed'),
          ],
        ),
      ],
    },
    {
      title: 'Inbox and errors',
      panels: [
        panel(
          'Inbox: handled messages',
          'Messages consumed (inbox row written), by queue.',
          'ops',
          [
            q(
              `sum by (queue) (rate(warren_messaging_consumed_total{${svc}}[${RATE}]))`,
              '{{queue}}',
            ),
          ],
        ),
        panel('Handler errors', 'Failed handling per second, by queue and error kind.', 'ops', [
          q(
            `sum by (queue, error_kind) (rate(warren_messaging_failed_total{${svc}}[${RATE}]))`,
            '{{queue}} {{error_kind}}',
          ),
        ]),
      ],
    },
  ],
};

const op = 'job=~"$job"';

/** The operator: reconciles, drift repairs, broker and API server calls, migrations. */
export const operatorDashboard: DashboardSpec = {
  uid: 'warren-operator',
  title: 'Warren / Operator',
  description:
    'The Warren operator: reconciles, drift repairs, broker calls, migrations, leadership.',
  variables: [{ name: 'job', label: 'job', query: 'label_values(warren_leader, job)' }],
  rows: [
    {
      title: 'Reconciles',
      panels: [
        panel(
          'Reconciles by result',
          'Reconciles per second, by kind and result (alert WarrenReconcileFailing).',
          'ops',
          [
            q(
              `sum by (kind, result) (rate(warren_reconcile_total{${op}}[${RATE}]))`,
              '{{kind}} {{result}}',
            ),
          ],
        ),
        panel('Reconcile duration', 'p99 time of one reconcile, by kind.', 's', [
          q(
            `histogram_quantile(0.99, sum by (le, kind) (rate(warren_reconcile_duration_seconds_bucket{${op}}[${RATE}])))`,
            '{{kind}}',
          ),
        ]),
        panel(
          'Leader',
          '1 when a replica holds the Lease (alert WarrenOperatorNoLeader); the work queue depth beside it.',
          'short',
          [
            q(`max(warren_leader{${op}})`, 'leader'),
            q(`sum(warren_work_queue_depth{${op}})`, 'work queue'),
          ],
        ),
      ],
    },
    {
      title: 'Broker and cluster',
      panels: [
        panel(
          'Drift repairs',
          'Broker objects found missing or changed out of band and repaired, by object type.',
          'short',
          [q(`sum by (object) (increase(warren_drift_repairs_total{${op}}[1h]))`, '{{object}}')],
        ),
        panel(
          'Broker calls',
          'Management API calls per second, by method; broker changes made.',
          'ops',
          [
            q(
              `sum by (method) (rate(warren_broker_http_requests_total{${op}}[${RATE}]))`,
              '{{method}}',
            ),
            q(`sum(rate(warren_broker_changes_total{${op}}[${RATE}]))`, 'changes'),
          ],
        ),
        panel(
          'API server requests',
          'Kubernetes API requests per second (watches excluded), by method.',
          'ops',
          [
            q(
              `sum by (method) (rate(warren_kube_api_requests_total{${op}}[${RATE}]))`,
              '{{method}}',
            ),
          ],
        ),
      ],
    },
    {
      title: 'Migrations',
      panels: [
        panel(
          'Migration runs',
          'DatabaseMigration Jobs finished in the last hour, by result (alert WarrenMigrationJobFailed).',
          'short',
          [q(`sum by (result) (increase(warren_migration_runs_total{${op}}[1h]))`, '{{result}}')],
        ),
        panel('Migration duration', 'p99 run time of a migration Job, by result.', 's', [
          q(
            `histogram_quantile(0.99, sum by (le, result) (rate(warren_migration_duration_seconds_bucket{${op}}[1h])))`,
            '{{result}}',
          ),
        ]),
      ],
    },
  ],
};

export const DASHBOARDS: DashboardSpec[] = [routeDashboard, serviceDashboard, operatorDashboard];
