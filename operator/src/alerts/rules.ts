/**
 * Prometheus alert rules generated per EventRoute from its thresholds. They read the broker's
 * own rabbitmq_prometheus metrics, per queue, from `/metrics/detailed` with the families
 * `queue_coarse_metrics` (depth, consumers) and `queue_metrics` (head message timestamp):
 * the scrape config must request those families (see README, Operations).
 */
import type { EventRoute } from '@warren/crds';
import type { RouteObjects } from '../engine/model';

export interface RouteAlertInput {
  namespace: string;
  route: string;
  consumerService: string;
  vhost: string;
  queue: string;
  /** Null when dead-lettering is off for the route. */
  deadLetterQueue: string | null;
  retryQueues: string[];
  thresholds: { queueDepth: number; oldestMessageAgeSeconds: number; deadLetterDepth: number };
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** PromQL string literal: backslashes and double quotes escaped. */
const literal = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** PromQL regex literal matching exactly one of the names. */
const oneOf = (names: string[]) =>
  literal(names.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));

export const ALERT_NAMES = {
  queueDepth: 'WarrenQueueDepthHigh',
  messageAge: 'WarrenOldestMessageTooOld',
  noConsumers: 'WarrenQueueWithoutConsumers',
  deadLetters: 'WarrenDeadLettersPresent',
  retryBacklog: 'WarrenRetryBacklogHigh',
} as const;

/** The alert input of an EventRoute, from its spec and the broker objects compiled for it. */
export function routeAlertInput(
  route: Pick<EventRoute, 'metadata' | 'spec'>,
  owned: Pick<RouteObjects, 'vhost' | 'queue' | 'deadLetterQueue' | 'retryQueues'>,
): RouteAlertInput {
  return {
    namespace: route.metadata.namespace ?? 'default',
    route: route.metadata.name,
    consumerService: route.spec.consumer.service,
    vhost: owned.vhost,
    queue: owned.queue,
    deadLetterQueue: owned.deadLetterQueue,
    retryQueues: owned.retryQueues,
    thresholds: route.spec.alerts,
  };
}

export interface RuleOptions {
  /**
   * Replaces every non-zero `for:` (tests only: an alert goes pending, then firing, within
   * seconds). The shipped durations are the ones written below.
   */
  pendingFor?: string;
}

export function routeRuleGroup(input: RouteAlertInput, options: RuleOptions = {}): RuleGroup {
  const selector = (queue: string) => `{vhost=${literal(input.vhost)},queue=${literal(queue)}}`;
  const labels = {
    warren_route: input.route,
    warren_namespace: input.namespace,
    service: input.consumerService,
    vhost: input.vhost,
    queue: input.queue,
  };
  const where = `queue ${input.queue} (vhost ${input.vhost}) of EventRoute ${input.namespace}/${input.route}`;
  const { queueDepth, oldestMessageAgeSeconds, deadLetterDepth } = input.thresholds;
  const rules: AlertRule[] = [
    {
      alert: ALERT_NAMES.queueDepth,
      expr: `sum(rabbitmq_detailed_queue_messages${selector(input.queue)}) > ${queueDepth}`,
      for: '2m',
      labels: { ...labels, severity: 'warning' },
      annotations: {
        summary: `Queue ${input.queue} holds more than ${queueDepth} messages`,
        description: `{{ $value }} messages wait in ${where}; ${input.consumerService} is not keeping up.`,
      },
    },
    {
      alert: ALERT_NAMES.messageAge,
      // The head timestamp is the AMQP `timestamp` property (seconds) of the oldest message; 0 when empty.
      expr:
        `(time() - max(rabbitmq_detailed_queue_head_message_timestamp${selector(input.queue)} > 0))` +
        ` > ${oldestMessageAgeSeconds}`,
      for: '1m',
      labels: { ...labels, severity: 'warning' },
      annotations: {
        summary: `The oldest message in ${input.queue} waited more than ${oldestMessageAgeSeconds}s`,
        description: `The head message of ${where} is {{ $value | humanizeDuration }} old.`,
      },
    },
    {
      alert: ALERT_NAMES.noConsumers,
      expr:
        `sum(rabbitmq_detailed_queue_consumers${selector(input.queue)}) == 0` +
        ` and sum(rabbitmq_detailed_queue_messages${selector(input.queue)}) > 0`,
      for: '5m',
      labels: { ...labels, severity: 'critical' },
      annotations: {
        summary: `Queue ${input.queue} has messages and no consumer`,
        description: `Nothing consumes ${where}; is ${input.consumerService} running?`,
      },
    },
  ];
  if (input.deadLetterQueue) {
    rules.push({
      alert: ALERT_NAMES.deadLetters,
      expr: `sum(rabbitmq_detailed_queue_messages${selector(input.deadLetterQueue)}) >= ${deadLetterDepth}`,
      for: '0m',
      labels: { ...labels, severity: 'warning', dead_letter_queue: input.deadLetterQueue },
      annotations: {
        summary: `Dead-letter queue ${input.deadLetterQueue} holds {{ $value }} messages`,
        description: `Messages of ${where} failed for good. See why with \`warren dead-letters -f <resources> --route ${input.route}\`; once the cause is fixed, \`warren redrive\` with the same flags sends them back.`,
      },
    });
  }
  if (input.retryQueues.length > 0) {
    rules.push({
      alert: ALERT_NAMES.retryBacklog,
      expr:
        `sum(rabbitmq_detailed_queue_messages{vhost=${literal(input.vhost)},queue=~${oneOf(input.retryQueues)}})` +
        ` > ${queueDepth}`,
      for: '5m',
      labels: { ...labels, severity: 'warning' },
      annotations: {
        summary: `More than ${queueDepth} messages wait for a retry of ${input.queue}`,
        description: `{{ $value }} failed messages of ${where} wait in its retry queues.`,
      },
    });
  }
  const pendingFor = options.pendingFor;
  return {
    name: `warren.${input.namespace}.${input.route}`,
    rules: pendingFor
      ? rules.map((rule) => (rule.for === '0m' ? rule : { ...rule, for: pendingFor }))
      : rules,
  };
}

/** A monitoring.coreos.com/v1 PrometheusRule owned by the route (garbage-collected with it). */
export function prometheusRuleFor(
  input: RouteAlertInput,
  owner: { apiVersion: string; kind: string; name: string; uid: string },
) {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: `warren-route-${input.route}`,
      namespace: input.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'warren', 'warren.dev/route': input.route },
      ownerReferences: [{ ...owner, controller: true, blockOwnerDeletion: false }],
    },
    spec: { groups: [routeRuleGroup(input)] },
  };
}
