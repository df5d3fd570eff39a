/**
 * The compiler: a pure function from EventRoutes and RetryPolicies to the desired broker
 * topology and the per-service topology documents. Conflicts are errors naming every resource
 * involved; nothing is compiled when there is one.
 */
import type { ConsumerQueue, PublishTarget, ServiceTopology } from '@warren/contracts';
import { TOPOLOGY_API_VERSION } from '@warren/contracts/topology';
import type { EventRoute, RetryPolicy } from '@warren/crds';
import { resourceKey } from '@warren/crds/core';
import {
  brokerProfile,
  delayedRetryArguments,
  versionArguments,
  type BrokerProfile,
  type QueueRole,
} from './broker-version';
import { brokerStrategyProblem, retryPlanFor } from './retry-plan';
import type {
  BindingObject,
  DesiredTopology,
  ExchangeObject,
  PermissionObject,
  QueueObject,
  RouteObjects,
  UserObject,
} from './model';
import { byCodePoint } from '../util/order';
import {
  AUTOSCALER_SERVICE,
  AUTOSCALER_TAG,
  DEFAULT_VHOST,
  USER_TAG,
  autoscalerUserName,
  consumerQueueName,
  deadLetterExchangeName,
  deadLetterQueueName,
  exactly,
  managedArguments,
  serviceUserName,
} from './naming';
import { compositeKey } from '../util/keys';

export class CompileError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `the resources do not compile:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
    );
    this.name = 'CompileError';
  }
}

export interface CompileOptions {
  /** The vhost of routes without spec.vhost (the broker connection's). */
  defaultVhost?: string;
  /**
   * The broker's version (`/api/overview` rabbitmq_version): queue arguments that differ per
   * version follow it (see broker-version.ts). Absent: what 3.x needs.
   */
  brokerVersion?: string;
}

const routeLabel = (route: EventRoute) => `EventRoute ${resourceKey(route)}`;
const isPattern = (event: string) => event.includes('*') || event.includes('#');

/** Objects of one kind in one vhost, keyed by name, remembering which route declared each. */
class Registry<T extends { name: string; vhost: string }> {
  private readonly byKey = new Map<string, { object: T; owner: string }>();
  constructor(
    private readonly noun: string,
    private readonly problems: string[],
  ) {}

  /** Adds the object; the same object again is fine (shared exchanges), a different one is a conflict. */
  add(object: T, owner: string, same: (a: T, b: T) => boolean): void {
    const key = compositeKey(object.vhost, object.name);
    const existing = this.byKey.get(key);
    if (!existing) {
      this.byKey.set(key, { object, owner });
    } else if (existing.owner !== owner && !same(existing.object, object)) {
      this.problems.push(
        `${existing.owner} and ${owner} both declare ${this.noun} "${object.name}" in vhost "${object.vhost}" differently`,
      );
    }
  }

  values(): T[] {
    return [...this.byKey.values()].map((entry) => entry.object);
  }
}

const sameExchange = (a: ExchangeObject, b: ExchangeObject) =>
  a.type === b.type && a.group === b.group;

export function compile(
  routes: readonly EventRoute[],
  policies: readonly RetryPolicy[],
  options: CompileOptions = {},
): DesiredTopology {
  const problems: string[] = [];
  const defaultVhost = options.defaultVhost ?? DEFAULT_VHOST;
  const broker: BrokerProfile | undefined = options.brokerVersion
    ? brokerProfile(options.brokerVersion)
    : undefined;
  const exchanges = new Registry<ExchangeObject>('exchange', problems);
  const queues = new Registry<QueueObject>('queue', problems);
  const bindings: BindingObject[] = [];
  const routeObjects: RouteObjects[] = [];
  const policiesByKey = new Map(policies.map((policy) => [resourceKey(policy), policy]));
  const queueOwners = new Map<string, string>();
  /** Vhosts with an autoscaled queue: each gets the KEDA scaler's user. */
  const autoscaledVhosts = new Set<string>();
  /** vhost -> service -> what it publishes and consumes. */
  const services = new Map<
    string,
    Map<
      string,
      {
        publishes: PublishTarget[];
        consumes: ConsumerQueue[];
        write: Set<string>;
        read: Set<string>;
      }
    >
  >();

  const serviceEntry = (vhost: string, service: string) => {
    let byService = services.get(vhost);
    if (!byService) services.set(vhost, (byService = new Map()));
    let entry = byService.get(service);
    if (!entry)
      byService.set(
        service,
        (entry = { publishes: [], consumes: [], write: new Set(), read: new Set() }),
      );
    return entry;
  };

  for (const route of [...routes].sort((a, b) => byCodePoint(resourceKey(a), resourceKey(b)))) {
    const label = routeLabel(route);
    const key = resourceKey(route);
    const { spec } = route;
    const vhost = spec.vhost ?? defaultVhost;
    const queue =
      spec.consumer.queue ?? consumerQueueName(spec.consumer.service, route.metadata.name);

    const claimedBy = queueOwners.get(compositeKey(vhost, queue));
    if (claimedBy) {
      problems.push(
        `${claimedBy} and ${label} both claim queue "${queue}" in vhost "${vhost}": a queue belongs to one EventRoute`,
      );
      continue;
    }
    queueOwners.set(compositeKey(vhost, queue), label);

    let policy: RetryPolicy | undefined;
    if (spec.retryPolicyRef) {
      const policyKey = `${route.metadata.namespace ?? 'default'}/${spec.retryPolicyRef.name}`;
      policy = policiesByKey.get(policyKey);
      if (!policy) {
        problems.push(`${label}: spec.retryPolicyRef.name: RetryPolicy ${policyKey} not found`);
        continue;
      }
      const strategyProblem =
        policy.spec.strategy === 'broker' && policy.spec.maxAttempts > 1
          ? brokerStrategyProblem(route, policy, broker)
          : undefined;
      if (strategyProblem) {
        problems.push(`${label}: ${strategyProblem}`);
        continue;
      }
    }

    const owned: RouteObjects['objects'] = [];
    const addExchange = (exchange: ExchangeObject) => {
      exchanges.add(exchange, label, sameExchange);
      owned.push({ kind: 'exchange', name: exchange.name });
    };
    const addQueue = (object: QueueObject) => {
      queues.add(object, label, () => false);
      owned.push({ kind: 'queue', name: object.name });
    };
    const addBinding = (source: string, destination: string, routingKey: string) => {
      bindings.push({
        kind: 'binding',
        vhost,
        source,
        destination,
        routingKey,
        arguments: managedArguments(null),
        group: queue,
      });
      owned.push({ kind: 'binding', name: `${source} -> ${destination} (${routingKey})` });
    };
    const queueObject = (
      name: string,
      role: QueueRole,
      extra: Record<string, unknown> = {},
    ): QueueObject => ({
      kind: 'queue',
      vhost,
      name,
      queueType: spec.consumer.queueType,
      autoDelete: name === queue && spec.consumer.autoDelete,
      arguments: {
        'x-queue-type': spec.consumer.queueType,
        ...managedArguments(queue),
        ...extra,
        ...versionArguments(broker, role, spec.consumer.queueType),
      },
      group: queue,
    });

    // The event exchange, shared by every route naming it.
    addExchange({
      kind: 'exchange',
      vhost,
      name: spec.exchange.name,
      type: spec.exchange.type,
      arguments: managedArguments(null),
      group: null,
    });
    // Always set, so dead-lettering switches on and off in place: with `deadLetter.enabled: false`
    // the exchange is absent and the broker drops what it would dead-letter. (A policy per queue
    // did the same, but each new policy costs the broker a pass over every queue in the vhost.)
    const retry = retryPlanFor(queue, policy);
    addQueue(
      queueObject(queue, 'consumer', {
        'x-dead-letter-exchange': deadLetterExchangeName(queue),
        ...(retry.strategy === 'broker' && retry.delaysMs.length > 0
          ? delayedRetryArguments(retry.delaysMs)
          : {}),
      }),
    );
    const routingKeys = spec.exchange.type === 'fanout' ? [''] : [...new Set(spec.events)];
    for (const routingKey of routingKeys) addBinding(spec.exchange.name, queue, routingKey);

    if (retry.levels.length > 0) {
      addExchange({
        kind: 'exchange',
        vhost,
        name: retry.exchange,
        type: 'direct',
        arguments: managedArguments(queue),
        group: queue,
      });
      for (const level of retry.levels) {
        // Expired messages go back through the default exchange to this queue alone.
        addQueue(
          queueObject(level.queue, 'retry', {
            'x-message-ttl': level.delayMs,
            'x-dead-letter-exchange': '',
            'x-dead-letter-routing-key': queue,
          }),
        );
        addBinding(retry.exchange, level.queue, level.routingKey);
      }
    }

    const deadLetter = spec.deadLetter.enabled
      ? { exchange: deadLetterExchangeName(queue), queue: deadLetterQueueName(queue) }
      : null;
    if (deadLetter) {
      addExchange({
        kind: 'exchange',
        vhost,
        name: deadLetter.exchange,
        type: 'fanout',
        arguments: managedArguments(queue),
        group: queue,
      });
      addQueue(queueObject(deadLetter.queue, 'dead-letter'));
      addBinding(deadLetter.exchange, deadLetter.queue, '');
    }

    const source = serviceEntry(vhost, spec.source.service);
    source.write.add(spec.exchange.name);
    for (const eventType of spec.events.filter((event) => !isPattern(event))) {
      const target = source.publishes.find(
        (t) => t.eventType === eventType && t.exchange === spec.exchange.name,
      );
      if (target) target.routes.push(key);
      else
        source.publishes.push({
          eventType,
          exchange: spec.exchange.name,
          exchangeType: spec.exchange.type,
          routingKey: eventType,
          routes: [key],
        });
    }
    const consumer = serviceEntry(vhost, spec.consumer.service);
    consumer.read.add(queue);
    if (retry.exchange) consumer.write.add(retry.exchange);
    if (deadLetter) consumer.write.add(deadLetter.exchange);
    consumer.consumes.push({
      route: key,
      queue,
      queueType: spec.consumer.queueType,
      prefetch: spec.consumer.prefetch,
      source: {
        service: spec.source.service,
        exchange: spec.exchange.name,
        exchangeType: spec.exchange.type,
      },
      eventTypes: [...spec.events],
      retry,
      deadLetter,
    });

    if (spec.consumer.autoscaling) autoscaledVhosts.add(vhost);
    routeObjects.push({
      route: key,
      vhost,
      queue,
      deadLetterQueue: deadLetter?.queue ?? null,
      retryQueues: retry.levels.map((level) => level.queue),
      deletionPolicy: spec.deletionPolicy,
      objects: owned,
    });
  }

  if (problems.length > 0) throw new CompileError(problems);

  const users: UserObject[] = [];
  const permissions: PermissionObject[] = [];
  const serviceTopologies: ServiceTopology[] = [];
  for (const [vhost, byService] of services) {
    for (const [service, entry] of byService) {
      const user = serviceUserName(service, vhost);
      users.push({ kind: 'user', vhost, name: user, service, tags: [USER_TAG] });
      // configure is empty: services never declare topology, Warren does.
      permissions.push({
        kind: 'permission',
        vhost,
        user,
        configure: '^$',
        write: exactly(entry.write),
        read: exactly(entry.read),
      });
      serviceTopologies.push({
        apiVersion: TOPOLOGY_API_VERSION,
        kind: 'ServiceTopology',
        service,
        vhost,
        publishes: entry.publishes,
        consumes: entry.consumes,
      });
    }
  }

  for (const vhost of autoscaledVhosts) {
    const user = autoscalerUserName(vhost);
    users.push({
      kind: 'user',
      vhost,
      name: user,
      service: AUTOSCALER_SERVICE,
      tags: [USER_TAG, AUTOSCALER_TAG],
    });
    permissions.push({ kind: 'permission', vhost, user, configure: '^$', write: '^$', read: '^$' });
  }

  const vhosts = [...new Set([...services.keys()])].map((vhost) => ({
    kind: 'vhost' as const,
    vhost,
  }));
  return {
    vhosts,
    exchanges: exchanges.values(),
    queues: queues.values(),
    bindings,
    // None: dead-lettering is a queue argument. Read-back still finds `warren.*` policies, so
    // the plan removes any left by an older Warren.
    policies: [],
    users,
    permissions,
    routes: routeObjects,
    services: serviceTopologies,
    ...(broker ? { broker } : {}),
  };
}
