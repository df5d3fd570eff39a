// Generated from shared/crds/src/schema by `npm run generate -w @warren/crds`: do not edit.
import type { ObjectMeta } from './meta';

/** The route: where events are published and which queue receives them. */
export interface EventRouteSpec {
  /** RabbitMQ virtual host of every object of this route. When absent, the vhost of the broker connection (the path of its AMQP URL, default "/"). */
  vhost?: string;
  /** The exchange the source service publishes to. Several routes may share it if they agree on its type. */
  exchange: {
    /** Exchange name. */
    name: string;
    /** Exchange type: topic (routing patterns), direct (exact event types) or fanout (every event, routing key ignored). */
    type: 'topic' | 'direct' | 'fanout';
  };
  /** The service that publishes the events; it gets write permission on the exchange. */
  source: {
    /** Name of the publishing service. */
    service: string;
  };
  /** Event types or routing patterns delivered to the consumer queue. */
  events: string[];
  /** The service that consumes the events and its queue. */
  consumer: {
    /** Name of the consuming service; it gets read permission on the queue. */
    service: string;
    /** Queue name. When absent: `<consumer.service>.<metadata.name>`. A queue belongs to exactly one EventRoute. */
    queue?: string;
    /** RabbitMQ queue type. Quorum queues are replicated and durable; it cannot be changed in place once the queue exists. */
    queueType: 'quorum' | 'classic';
    /** How many unacknowledged messages the consumer may hold at once. */
    prefetch: number;
    /** Delete the queue when its last consumer goes away. Only classic queues may; Warren recreates the queue on the next reconcile. */
    autoDelete: boolean;
    /** Scale the consumer workload with the depth of this queue through a KEDA ScaledObject (one per consumer service and namespace, one rabbitmq trigger per autoscaled queue). Needs KEDA (the keda.sh/v1alpha1 API) in the cluster; routes of one service in one namespace must agree on minReplicas, maxReplicas, target, pollingIntervalSeconds and cooldownPeriodSeconds. */
    autoscaling?: {
      /** Fewest replicas; 0 lets KEDA scale the workload to zero while the queue is at or below activationQueueLength. */
      minReplicas: number;
      /** Most replicas. */
      maxReplicas: number;
      /** Messages in the queue per replica KEDA aims for (trigger mode QueueLength, value). */
      targetQueueLength: number;
      /** Above this many messages the workload is scaled up from zero (trigger activationValue). When absent, KEDA's default (0). */
      activationQueueLength?: number;
      /** How often KEDA reads the queue depth (ScaledObject pollingInterval); it also bounds how soon a backlog wakes a workload scaled to zero. When absent, KEDA's default (30). */
      pollingIntervalSeconds?: number;
      /** How long the queue must stay at or below activationQueueLength before KEDA scales the workload to zero (ScaledObject cooldownPeriod; only with minReplicas 0). When absent, KEDA's default (300). */
      cooldownPeriodSeconds?: number;
      /** The workload to scale. When absent: the Deployment named like spec.consumer.service. */
      target?: {
        /** Workload kind. */
        kind: 'Deployment' | 'StatefulSet';
        /** Workload name, in the route's namespace. */
        name: string;
      };
    };
  };
  /** The RetryPolicy (same namespace) applied to failed deliveries. When absent, a failed message is not retried. */
  retryPolicyRef?: {
    /** RetryPolicy name. */
    name: string;
  };
  /** Dead-lettering of messages that failed for good. */
  deadLetter: {
    /** Keep failed messages in a dead-letter queue `<queue>.dlq`. When false they are dropped after logging. */
    enabled: boolean;
  };
  /** Thresholds of the Prometheus alerts generated for this route. */
  alerts: {
    /** Alert when the queue holds more messages than this. */
    queueDepth: number;
    /** Alert when the oldest message waited longer than this. */
    oldestMessageAgeSeconds: number;
    /** Alert when the dead-letter queue holds at least this many messages. */
    deadLetterDepth: number;
  };
  /** What happens to the queues when the route is deleted. Retain: a queue holding messages (consumer, retry or dead-letter) is kept with its whole group; empty ones are deleted. Delete: deleted even when holding messages. */
  deletionPolicy: 'Retain' | 'Delete';
}

/** Observed state, written by the operator from broker read-back. */
export interface EventRouteStatus {
  /** The metadata.generation the operator last acted on. */
  observedGeneration?: number;
  /** Standard Kubernetes conditions (Ready, Reconciling, Degraded, Stalled), each with a reason. */
  conditions?: Array<{
    /** Condition type: Ready, Reconciling, Degraded or Stalled. */
    type: string;
    /** Whether the condition holds. */
    status: 'True' | 'False' | 'Unknown';
    /** A CamelCase machine-readable reason for the last transition. */
    reason: string;
    /** A human-readable explanation, naming the object and field concerned. */
    message: string;
    /** When the status last changed. */
    lastTransitionTime: string;
    /** The metadata.generation the condition was computed from. */
    observedGeneration?: number;
  }>;
  /** Name of the consumer queue (derived or given). */
  queue?: string;
  /** The vhost the objects live in. */
  vhost?: string;
  /** Broker objects this route owns. */
  brokerObjects?: Array<{
    /** Object kind. */
    kind: 'exchange' | 'queue' | 'binding' | 'policy';
    /** Object name (for a binding: source -> destination (routing key)). */
    name: string;
  }>;
  /** Messages in the consumer queue at the last read-back. */
  depth?: number;
  /** Consumers attached to the queue at the last read-back. */
  consumers?: number;
  /** Messages in the dead-letter queue at the last read-back. */
  deadLetterDepth?: number;
  /** The KEDA ScaledObject scaling the consumer from this queue, when spec.consumer.autoscaling is set and written. */
  scaledObject?: string;
  /** When the broker was read for this status: set at every status change and refreshed at least every 10 minutes. Between read-backs the operator hears the broker deletion events (warren_broker_events_subscribed), so a missing object shows within seconds. */
  brokerReadAt?: string;
}

/** Events of some types, published by a source service to an exchange, delivered to one consumer service queue, with retries and dead-lettering. */
export interface EventRoute {
  apiVersion: 'warren.dev/v1alpha1';
  kind: 'EventRoute';
  metadata: ObjectMeta;
  spec: EventRouteSpec;
  status?: EventRouteStatus;
}

/** The retry policy. */
export interface RetryPolicySpec {
  /** Total deliveries to the handler, the first one included (3: the seed three strikes). */
  maxAttempts: number;
  /** The delay before each new attempt. Each distinct delay gets its own TTL retry queue, so a short delay never waits behind a long one. */
  backoff: {
    /** fixed: every delay is initialDelay. linear: the delay before attempt n+1 is initialDelay * n, capped at maxDelay. exponential: the delay before attempt n+1 is initialDelay * multiplier^(n-1), capped at maxDelay. */
    type: 'fixed' | 'linear' | 'exponential';
    /** Delay before the second attempt, e.g. "500ms", "1s", "1m30s". */
    initialDelay: string;
    /** Growth factor of exponential backoff (ignored by fixed and linear). */
    multiplier: number;
    /** Upper bound of any delay. */
    maxDelay: string;
  };
  /** How a message waits before its next attempt. ttl-queues: one TTL retry queue per distinct delay (any backoff, any RabbitMQ). broker: the consumer queue delays the rejected message itself (RabbitMQ 4.3+ delayed retry, x-delayed-retry-*): no retry queues, no message rewrite; fixed or linear backoff, quorum queues only. */
  strategy: 'ttl-queues' | 'broker';
  /** Error kinds (the error name or code) that go to the dead-letter queue at once, without retry. */
  nonRetryableErrors: string[];
}

/** Observed state, written by the operator. */
export interface RetryPolicyStatus {
  /** The metadata.generation the operator last acted on. */
  observedGeneration?: number;
  /** Standard Kubernetes conditions (Ready, Reconciling, Degraded, Stalled), each with a reason. */
  conditions?: Array<{
    /** Condition type: Ready, Reconciling, Degraded or Stalled. */
    type: string;
    /** Whether the condition holds. */
    status: 'True' | 'False' | 'Unknown';
    /** A CamelCase machine-readable reason for the last transition. */
    reason: string;
    /** A human-readable explanation, naming the object and field concerned. */
    message: string;
    /** When the status last changed. */
    lastTransitionTime: string;
    /** The metadata.generation the condition was computed from. */
    observedGeneration?: number;
  }>;
  /** The delays the policy compiles to, one per retry, e.g. ["1s", "2s"]. */
  delays?: string[];
  /** Number of EventRoutes using the policy. */
  routes?: number;
}

/** How often and how late a failed message is delivered again before it is dead-lettered. EventRoutes refer to it by name. */
export interface RetryPolicy {
  apiVersion: 'warren.dev/v1alpha1';
  kind: 'RetryPolicy';
  metadata: ObjectMeta;
  spec: RetryPolicySpec;
  status?: RetryPolicyStatus;
}

/** What to migrate and with what. */
export interface DatabaseMigrationSpec {
  /** The service whose database this is. */
  service: string;
  /** Container image holding the service and its prisma/ folder (built from services/Dockerfile: the working directory is the service's folder, holding prisma.config.ts). */
  image: string;
  /** Path of the Prisma schema folder inside the image, relative to its working directory: the Job runs `prisma migrate deploy --schema <migrationsPath>`, which reads the migrations from `<migrationsPath>/migrations`. */
  migrationsPath: string;
  /** Where the database connection URL comes from. */
  database: {
    /** A Secret in the same namespace holding the PostgreSQL connection URL. The Job reads it through a secretKeyRef; the operator reads it to tell databases apart (two migrations whose URLs name the same host, port, database and schema never run at once) and to read `_prisma_migrations`. */
    secretRef: {
      /** Secret name. */
      name: string;
      /** Key of the URL in the Secret. */
      key: string;
    };
  };
  /** How the migration Job's pod runs. Part of the input: a change runs `prisma migrate deploy` again (with nothing pending it only checks), and lets a Stalled migration try again. */
  job: {
    /** Longest a run may take (the Job's activeDeadlineSeconds): a run still going after it fails, and frees the database for the next one. Between 1m and 24h. */
    timeout: string;
    /** ServiceAccount the pod runs as, e.g. one carrying imagePullSecrets or a cloud identity for the database. No API token is mounted. Default: the namespace's `default`. */
    serviceAccountName?: string;
    /** Secrets (type kubernetes.io/dockerconfigjson) for pulling `image` from a private registry. */
    imagePullSecrets?: string[];
    /** CPU and memory of the `migrate` container; each value set replaces the default (requests cpu 100m, memory 192Mi; limits cpu 1, memory 512Mi). */
    resources?: {
      /** Guaranteed to the container. */
      requests?: {
        /** CPU, e.g. "250m" or "1". */
        cpu?: string;
        /** Memory, e.g. "256Mi" or "1Gi". */
        memory?: string;
      };
      /** The most the container may use. */
      limits?: {
        /** CPU, e.g. "250m" or "1". */
        cpu?: string;
        /** Memory, e.g. "256Mi" or "1Gi". */
        memory?: string;
      };
    };
  };
  /** Failed Job runs of the same input tolerated before the migration is Stalled (BackoffLimitExceeded): at most backoffLimit + 1 runs, with a growing delay between them. A changed input, or a higher limit, runs again. */
  backoffLimit: number;
}

/** Observed state, written by the operator. */
export interface DatabaseMigrationStatus {
  /** The metadata.generation the operator last acted on. */
  observedGeneration?: number;
  /** Standard Kubernetes conditions (Ready, Reconciling, Degraded, Stalled), each with a reason. */
  conditions?: Array<{
    /** Condition type: Ready, Reconciling, Degraded or Stalled. */
    type: string;
    /** Whether the condition holds. */
    status: 'True' | 'False' | 'Unknown';
    /** A CamelCase machine-readable reason for the last transition. */
    reason: string;
    /** A human-readable explanation, naming the object and field concerned. */
    message: string;
    /** When the status last changed. */
    lastTransitionTime: string;
    /** The metadata.generation the condition was computed from. */
    observedGeneration?: number;
  }>;
  /** Migrations recorded as applied in the database (`_prisma_migrations` rows that finished and were not rolled back), oldest first, as the operator last read them. */
  appliedMigrations?: Array<{
    /** Migration folder name. */
    name: string;
    /** When it finished. */
    appliedAt?: string;
  }>;
  /** The last Job the operator ran. */
  lastJobName?: string;
  /** Consecutive failed runs of the last input run. */
  failures?: number;
  /** Hash of the input last applied successfully (image, migrationsPath, Secret reference and a hash of the database URL); an unchanged input is not run again. */
  inputHash?: string;
}

/** A service's Prisma migrations to apply to its database, run by the operator as a Kubernetes Job (`prisma migrate deploy`) whenever the input (image, migrations path, database) changes, one Job at a time per database. */
export interface DatabaseMigration {
  apiVersion: 'warren.dev/v1alpha1';
  kind: 'DatabaseMigration';
  metadata: ObjectMeta;
  spec: DatabaseMigrationSpec;
  status?: DatabaseMigrationStatus;
}
