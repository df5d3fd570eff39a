import type { ResourceDefinition } from './crd';
import { ageColumn, readyColumn, reasonColumn } from './crd';
import {
  array,
  boolean,
  conditions,
  enumOf,
  integer,
  object,
  objectName,
  observedGeneration,
  serviceName,
  string,
} from './openapi';

/**
 * A RabbitMQ exchange or queue name Warren accepts: a letter or digit first, then letters,
 * digits and `._:-` (names go into permission regexes and Prometheus labels), short enough to
 * take the suffixes of its derived objects (`.retry.<delay>`, `.dlq`) within RabbitMQ's 255 bytes,
 * and outside the `amq.` prefix RabbitMQ reserves.
 */
const brokerName = (description: string) =>
  string(description, {
    pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$',
    maxLength: 200,
    'x-kubernetes-validations': [
      {
        rule: "!self.startsWith('amq.')",
        message: 'names starting with "amq." are reserved by RabbitMQ',
      },
    ],
  });

const eventPattern = string(
  'An event type (`user.created`) or, on a topic exchange, a routing pattern where a whole word may be `*` (one word) or `#` (zero or more words).',
  {
    pattern: '^(\\*|#|[A-Za-z0-9_-]+)(\\.(\\*|#|[A-Za-z0-9_-]+))*$',
    maxLength: 200,
  },
);

/** KEDA autoscaling of the consumer from this route's queue depth (needs the keda.sh/v1alpha1 API). */
const autoscaling = object(
  'Scale the consumer workload with the depth of this queue through a KEDA ScaledObject (one per consumer service and namespace, one rabbitmq trigger per autoscaled queue). Needs KEDA (the keda.sh/v1alpha1 API) in the cluster; routes of one service in one namespace must agree on minReplicas, maxReplicas, target, pollingIntervalSeconds and cooldownPeriodSeconds.',
  {
    minReplicas: integer(
      'Fewest replicas; 0 lets KEDA scale the workload to zero while the queue is at or below activationQueueLength.',
      { minimum: 0, maximum: 1000, default: 1 },
    ),
    maxReplicas: integer('Most replicas.', { minimum: 1, maximum: 1000 }),
    targetQueueLength: integer(
      'Messages in the queue per replica KEDA aims for (trigger mode QueueLength, value).',
      { minimum: 1, maximum: 1000000 },
    ),
    activationQueueLength: integer(
      "Above this many messages the workload is scaled up from zero (trigger activationValue). When absent, KEDA's default (0).",
      { minimum: 0, maximum: 1000000 },
    ),
    pollingIntervalSeconds: integer(
      "How often KEDA reads the queue depth (ScaledObject pollingInterval); it also bounds how soon a backlog wakes a workload scaled to zero. When absent, KEDA's default (30).",
      { minimum: 1, maximum: 3600 },
    ),
    cooldownPeriodSeconds: integer(
      "How long the queue must stay at or below activationQueueLength before KEDA scales the workload to zero (ScaledObject cooldownPeriod; only with minReplicas 0). When absent, KEDA's default (300).",
      { minimum: 0, maximum: 86400 },
    ),
    target: object(
      'The workload to scale. When absent: the Deployment named like spec.consumer.service.',
      {
        kind: enumOf('Workload kind.', ['Deployment', 'StatefulSet'], { default: 'Deployment' }),
        name: objectName("Workload name, in the route's namespace."),
      },
      { required: ['name'] },
    ),
  },
  {
    required: ['maxReplicas', 'targetQueueLength'],
    'x-kubernetes-validations': [
      {
        rule: 'self.minReplicas <= self.maxReplicas',
        message: 'minReplicas must not exceed maxReplicas',
        fieldPath: '.minReplicas',
      },
    ],
  },
);

export const eventRoute: ResourceDefinition = {
  kind: 'EventRoute',
  plural: 'eventroutes',
  singular: 'eventroute',
  shortNames: ['er'],
  description:
    'Events of some types, published by a source service to an exchange, delivered to one consumer service queue, with retries and dead-lettering.',
  spec: object(
    'The route: where events are published and which queue receives them.',
    {
      vhost: string(
        'RabbitMQ virtual host of every object of this route. When absent, the vhost of the broker connection (the path of its AMQP URL, default "/").',
        { minLength: 1, maxLength: 200 },
      ),
      exchange: object(
        'The exchange the source service publishes to. Several routes may share it if they agree on its type.',
        {
          name: brokerName('Exchange name.'),
          type: enumOf(
            'Exchange type: topic (routing patterns), direct (exact event types) or fanout (every event, routing key ignored).',
            ['topic', 'direct', 'fanout'],
            { default: 'topic' },
          ),
        },
        { required: ['name'] },
      ),
      source: object(
        'The service that publishes the events; it gets write permission on the exchange.',
        { service: serviceName('Name of the publishing service.') },
        { required: ['service'] },
      ),
      events: array(
        'Event types or routing patterns delivered to the consumer queue.',
        eventPattern,
        {
          minItems: 1,
          maxItems: 32,
          'x-kubernetes-list-type': 'set',
        },
      ),
      consumer: object(
        'The service that consumes the events and its queue.',
        {
          service: serviceName(
            'Name of the consuming service; it gets read permission on the queue.',
          ),
          queue: brokerName(
            'Queue name. When absent: `<consumer.service>.<metadata.name>`. A queue belongs to exactly one EventRoute.',
          ),
          queueType: enumOf(
            'RabbitMQ queue type. Quorum queues are replicated and durable; it cannot be changed in place once the queue exists.',
            ['quorum', 'classic'],
            { default: 'quorum' },
          ),
          prefetch: integer('How many unacknowledged messages the consumer may hold at once.', {
            minimum: 1,
            maximum: 65535,
            default: 10,
          }),
          autoDelete: boolean(
            'Delete the queue when its last consumer goes away. Only classic queues may; Warren recreates the queue on the next reconcile.',
            { default: false },
          ),
          autoscaling,
        },
        {
          required: ['service'],
          'x-kubernetes-validations': [
            {
              rule: "!(self.queueType == 'quorum' && self.autoDelete)",
              message: 'quorum queues cannot be auto-delete',
              fieldPath: '.autoDelete',
            },
          ],
        },
      ),
      retryPolicyRef: object(
        'The RetryPolicy (same namespace) applied to failed deliveries. When absent, a failed message is not retried.',
        { name: objectName('RetryPolicy name.') },
        { required: ['name'] },
      ),
      deadLetter: object(
        'Dead-lettering of messages that failed for good.',
        {
          enabled: boolean(
            'Keep failed messages in a dead-letter queue `<queue>.dlq`. When false they are dropped after logging.',
            { default: true },
          ),
        },
        { default: {} },
      ),
      alerts: object(
        'Thresholds of the Prometheus alerts generated for this route.',
        {
          queueDepth: integer('Alert when the queue holds more messages than this.', {
            minimum: 1,
            default: 1000,
          }),
          oldestMessageAgeSeconds: integer(
            'Alert when the oldest message waited longer than this.',
            {
              minimum: 1,
              default: 300,
            },
          ),
          deadLetterDepth: integer(
            'Alert when the dead-letter queue holds at least this many messages.',
            {
              minimum: 1,
              default: 1,
            },
          ),
        },
        { default: {} },
      ),
      deletionPolicy: enumOf(
        'What happens to the queues when the route is deleted. Retain: a queue holding messages (consumer, retry or dead-letter) is kept with its whole group; empty ones are deleted. Delete: deleted even when holding messages.',
        ['Retain', 'Delete'],
        { default: 'Retain' },
      ),
    },
    {
      required: ['exchange', 'source', 'events', 'consumer'],
      'x-kubernetes-validations': [
        {
          rule: "self.exchange.type != 'direct' || self.events.all(e, !e.contains('*') && !e.contains('#'))",
          message: 'a direct exchange routes exact event types: patterns with * or # never match',
          fieldPath: '.events',
        },
      ],
    },
  ),
  rootRules: [
    {
      rule: 'has(self.spec.consumer.queue) || size(self.spec.consumer.service) + size(self.metadata.name) <= 199',
      message:
        'the derived queue name <consumer.service>.<metadata.name> would exceed 200 characters: set spec.consumer.queue',
      fieldPath: '.spec.consumer',
    },
  ],
  status: object('Observed state, written by the operator from broker read-back.', {
    observedGeneration: observedGeneration(),
    conditions: conditions(),
    queue: string('Name of the consumer queue (derived or given).', { maxLength: 255 }),
    vhost: string('The vhost the objects live in.', { maxLength: 255 }),
    brokerObjects: array(
      'Broker objects this route owns.',
      object(
        'One broker object.',
        {
          kind: enumOf('Object kind.', ['exchange', 'queue', 'binding', 'policy']),
          name: string('Object name (for a binding: source -> destination (routing key)).', {
            maxLength: 1024,
          }),
        },
        { required: ['kind', 'name'] },
      ),
      { maxItems: 256, 'x-kubernetes-list-type': 'atomic' },
    ),
    depth: integer('Messages in the consumer queue at the last read-back.', { minimum: 0 }),
    consumers: integer('Consumers attached to the queue at the last read-back.', { minimum: 0 }),
    deadLetterDepth: integer('Messages in the dead-letter queue at the last read-back.', {
      minimum: 0,
    }),
    scaledObject: string(
      'The KEDA ScaledObject scaling the consumer from this queue, when spec.consumer.autoscaling is set and written.',
      { maxLength: 253 },
    ),
    brokerReadAt: string(
      'When the broker was read for this status: set at every status change and refreshed at least every 10 minutes. Between read-backs the operator hears the broker deletion events (warren_broker_events_subscribed), so a missing object shows within seconds.',
      { format: 'date-time' },
    ),
  }),
  printerColumns: [
    {
      name: 'Exchange',
      type: 'string',
      jsonPath: '.spec.exchange.name',
      description: 'Exchange name.',
    },
    {
      name: 'Source',
      type: 'string',
      jsonPath: '.spec.source.service',
      description: 'Publishing service.',
    },
    {
      name: 'Consumer',
      type: 'string',
      jsonPath: '.spec.consumer.service',
      description: 'Consuming service.',
    },
    {
      name: 'Queue',
      type: 'string',
      jsonPath: '.status.queue',
      description: 'Consumer queue.',
      priority: 1,
    },
    readyColumn,
    {
      name: 'Depth',
      type: 'integer',
      jsonPath: '.status.depth',
      description: 'Messages in the queue.',
    },
    {
      name: 'DLQ',
      type: 'integer',
      jsonPath: '.status.deadLetterDepth',
      description: 'Messages in the dead-letter queue.',
    },
    reasonColumn,
    {
      name: 'Autoscaling',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Autoscaling")].reason',
      description: 'KEDA autoscaling of the consumer: the reason of the Autoscaling condition.',
      priority: 1,
    },
    ageColumn,
  ],
};
