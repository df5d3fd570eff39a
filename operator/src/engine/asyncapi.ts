/**
 * The event catalogue as an AsyncAPI 3.0 document, compiled from the same topology as the
 * broker objects: a server per vhost (no credentials), a channel per event exchange and per
 * consumer queue, a send operation per (service, exchange) and a receive operation per consumer
 * queue, and a message per event type whose body and headers are the JSON Schemas generated from
 * the zod contracts of `@warren/contracts`. AMQP 0-9-1 bindings (version 0.3.0) say what each
 * channel is; what they cannot say (retries, dead-lettering, the route) is in `x-warren-*`
 * extensions (documented in docs/asyncapi.md). Pure and deterministic.
 */
import { createHash } from 'node:crypto';
import type { ConsumerQueue, ExchangeType, ServiceTopology } from '@warren/contracts';
import { WARREN_HEADERS } from '@warren/contracts/topology';
import {
  CONTRACTED_EVENT_TYPES,
  contractVersion,
  eventHeadersSchema,
  eventMessageSchema,
  hasContract,
  uncontractedMessageSchema,
} from './event-schemas';
import type { DesiredTopology } from './model';
import { byCodePoint } from '../util/order';

export const ASYNCAPI_VERSION = '3.0.0';
/** Version of the AMQP bindings (asyncapi/bindings amqp) used below. */
const AMQP_BINDING_VERSION = '0.3.0';
const HEADERS_SCHEMA = 'WarrenEventHeaders';
/** Host written when the broker's address is not known (the CLI without --rabbitmq-url). */
export const PLACEHOLDER_HOST = 'rabbitmq:5672';

export interface AsyncApiOptions {
  /** Only this service's operations and what they use. */
  service?: string;
  /** The broker's AMQP URL; user and password are never copied into the document. */
  brokerUrl?: string;
  title?: string;
}

type Json = Record<string, unknown>;
export interface AsyncApiDocument {
  asyncapi: typeof ASYNCAPI_VERSION;
  info: { title: string; version: string; description: string };
  defaultContentType: 'application/json';
  servers: Record<string, Json>;
  channels: Record<string, Json>;
  operations: Record<string, Json>;
  components: { schemas: Record<string, Json>; messages: Record<string, Json> };
}

/** Ids are JSON-pointer safe and match the components key pattern `^[\w.-]+$`. */
const idOf = (...parts: string[]) => parts.join('.').replace(/[^A-Za-z0-9._-]/g, '_');
const ref = (...path: string[]) => ({
  $ref: `#/${path.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`,
});

/** AMQP topic matching: `*` is one word, `#` zero or more. */
export function topicMatches(pattern: string, routingKey: string): boolean {
  const match = (p: string[], k: string[]): boolean => {
    if (p.length === 0) return k.length === 0;
    const [head, ...rest] = p;
    if (head === '#') return match(rest, k) || (k.length > 0 && match(p, k.slice(1)));
    if (k.length === 0) return false;
    return (head === '*' || head === k[0]) && match(rest, k.slice(1));
  };
  return match(pattern.split('.'), routingKey.split('.'));
}

/** The event types a consumer queue receives: its own, or on topic exchanges what its patterns match. */
function receivedTypes(consume: ConsumerQueue, candidates: Iterable<string>): string[] {
  const types = new Set<string>();
  for (const event of consume.eventTypes) {
    const pattern = consume.source.exchangeType === 'topic' && /(^|\.)[*#](\.|$)/.test(event);
    if (!pattern) types.add(event);
    else for (const type of candidates) if (topicMatches(event, type)) types.add(type);
  }
  return [...types].sort(byCodePoint);
}

function server(vhost: string, brokerUrl: string | undefined): Json {
  const url = brokerUrl ? new URL(brokerUrl) : undefined;
  const secure = url?.protocol === 'amqps:';
  return {
    host: url ? `${url.hostname}:${url.port || (secure ? '5671' : '5672')}` : PLACEHOLDER_HOST,
    protocol: secure ? 'amqps' : 'amqp',
    protocolVersion: '0-9-1',
    pathname: `/${encodeURIComponent(vhost)}`,
    title: `RabbitMQ, vhost ${vhost}`,
    description:
      'Each service connects as its own broker user (Secret `warren-broker-<service>`); ' +
      'credentials are never part of this document.',
  };
}

function message(type: string): Json {
  const known = hasContract(type);
  return {
    name: type,
    title: type,
    summary: known
      ? `${type}, contract version ${contractVersion(type)}`
      : `${type} (no contract in @warren/contracts: payload not checked)`,
    contentType: 'application/json',
    headers: ref('components', 'schemas', HEADERS_SCHEMA),
    payload: known ? eventMessageSchema(type) : uncontractedMessageSchema(type),
    correlationId: { location: `$message.header#/${WARREN_HEADERS.correlationId}` },
    bindings: { amqp: { messageType: type, bindingVersion: AMQP_BINDING_VERSION } },
  };
}

/** A channel's messages: each event type, by reference to its component. */
const channelMessages = (types: string[]) =>
  Object.fromEntries(types.map((type) => [idOf(type), ref('components', 'messages', idOf(type))]));

interface ExchangeEntry {
  vhost: string;
  name: string;
  type: ExchangeType;
  types: Set<string>;
}

export function asyncApiDocument(
  topology: Pick<DesiredTopology, 'services' | 'queues'>,
  options: AsyncApiOptions = {},
): AsyncApiDocument {
  const services = [...topology.services].sort(
    (a, b) => byCodePoint(a.vhost, b.vhost) || byCodePoint(a.service, b.service),
  );
  const included = (doc: ServiceTopology) =>
    options.service === undefined || doc.service === options.service;
  const multiVhost = new Set(services.map((s) => s.vhost)).size > 1;
  const scoped = (vhost: string, ...parts: string[]) =>
    multiVhost ? idOf(vhost, ...parts) : idOf(...parts);

  // Every type published on each exchange, so topic patterns resolve to what really flows.
  const exchanges = new Map<string, ExchangeEntry>();
  const exchangeEntry = (vhost: string, name: string, type: ExchangeType) => {
    const key = `${vhost}\u0000${name}`;
    let entry = exchanges.get(key);
    if (!entry) exchanges.set(key, (entry = { vhost, name, type, types: new Set() }));
    return entry;
  };
  for (const doc of services)
    for (const target of doc.publishes)
      exchangeEntry(doc.vhost, target.exchange, target.exchangeType).types.add(target.eventType);

  const queues = new Map(topology.queues.map((q) => [`${q.vhost}\u0000${q.name}`, q]));
  const usedExchanges = new Set<ExchangeEntry>();
  const usedTypes = new Set<string>();
  const servers: Record<string, Json> = {};
  const channels: Record<string, Json> = {};
  const operations: Record<string, Json> = {};
  const serverId = (vhost: string) => {
    const id = multiVhost ? idOf('broker', vhost) : 'broker';
    servers[id] ??= server(vhost, options.brokerUrl);
    return id;
  };
  const exchangeChannelId = (entry: ExchangeEntry) => scoped(entry.vhost, 'exchange', entry.name);
  const messageRefs = (channel: string, types: string[]) =>
    types.map((type) => ref('channels', channel, 'messages', idOf(type)));

  for (const doc of services.filter(included)) {
    const byExchange = new Map<string, string[]>();
    for (const target of doc.publishes) {
      byExchange.set(target.exchange, [
        ...(byExchange.get(target.exchange) ?? []),
        target.eventType,
      ]);
    }
    for (const [name, types] of byExchange) {
      const entry = exchanges.get(`${doc.vhost}\u0000${name}`)!;
      usedExchanges.add(entry);
      const channel = exchangeChannelId(entry);
      const sorted = [...new Set(types)].sort(byCodePoint);
      sorted.forEach((type) => usedTypes.add(type));
      operations[scoped(doc.vhost, doc.service, 'publish', name)] = {
        action: 'send',
        title: `${doc.service} publishes to ${name}`,
        summary: `${doc.service} publishes ${sorted.join(', ')} (routing key: the event type) with publisher confirms.`,
        channel: ref('channels', channel),
        messages: messageRefs(channel, sorted),
        bindings: {
          amqp: {
            cc: sorted,
            deliveryMode: 2,
            timestamp: true,
            bindingVersion: AMQP_BINDING_VERSION,
          },
        },
      };
      serverId(doc.vhost);
    }

    for (const consume of doc.consumes) {
      const entry = exchangeEntry(doc.vhost, consume.source.exchange, consume.source.exchangeType);
      usedExchanges.add(entry);
      const types = receivedTypes(consume, new Set([...CONTRACTED_EVENT_TYPES, ...entry.types]));
      types.forEach((type) => {
        usedTypes.add(type);
        entry.types.add(type);
      });
      const queue = queues.get(`${doc.vhost}\u0000${consume.queue}`);
      const channel = scoped(doc.vhost, 'queue', consume.queue);
      channels[channel] = {
        address: consume.queue,
        title: `Queue ${consume.queue}`,
        description:
          `Consumer queue of EventRoute ${consume.route}: ${doc.service} receives ` +
          `${consume.eventTypes.join(', ')} from exchange ${consume.source.exchange} (published by ${consume.source.service}).`,
        servers: [ref('servers', serverId(doc.vhost))],
        messages: channelMessages(types),
        bindings: {
          amqp: {
            is: 'queue',
            queue: {
              name: consume.queue,
              durable: true,
              exclusive: false,
              autoDelete: queue?.autoDelete ?? false,
              vhost: doc.vhost,
            },
            bindingVersion: AMQP_BINDING_VERSION,
          },
        },
        'x-warren-route': consume.route,
        'x-warren-queue-type': consume.queueType,
        'x-warren-source': {
          service: consume.source.service,
          exchange: consume.source.exchange,
          bindingKeys: consume.source.exchangeType === 'fanout' ? [''] : consume.eventTypes,
        },
        'x-warren-retry': {
          policy: consume.retry.policy,
          maxAttempts: consume.retry.maxAttempts,
          delaysMs: consume.retry.delaysMs,
          nonRetryableErrors: consume.retry.nonRetryableErrors,
          exchange: consume.retry.exchange || null,
          queues: consume.retry.levels.map((level) => ({
            name: level.queue,
            delayMs: level.delayMs,
          })),
          attemptHeader: WARREN_HEADERS.attempt,
        },
        'x-warren-dead-letter': consume.deadLetter
          ? { enabled: true, ...consume.deadLetter, reasonHeader: WARREN_HEADERS.reason }
          : { enabled: false },
      };
      operations[scoped(doc.vhost, doc.service, 'consume', consume.queue)] = {
        action: 'receive',
        title: `${doc.service} consumes ${consume.queue}`,
        summary: `${doc.service} receives ${types.join(', ') || 'no known event type'} with manual acknowledgement.`,
        channel: ref('channels', channel),
        messages: messageRefs(channel, types),
        bindings: { amqp: { ack: true, bindingVersion: AMQP_BINDING_VERSION } },
        'x-warren-prefetch': consume.prefetch,
      };
    }
  }

  const exchangeChannels = [...usedExchanges].sort(
    (a, b) => byCodePoint(a.vhost, b.vhost) || byCodePoint(a.name, b.name),
  );
  for (const entry of exchangeChannels) {
    const types = [...entry.types].filter((type) => usedTypes.has(type)).sort(byCodePoint);
    channels[exchangeChannelId(entry)] = {
      address: entry.name,
      title: `Exchange ${entry.name}`,
      description: `The ${entry.type} exchange ${entry.name}; events are published with their type as routing key.`,
      servers: [ref('servers', serverId(entry.vhost))],
      messages: channelMessages(types),
      bindings: {
        amqp: {
          is: 'routingKey',
          exchange: {
            name: entry.name,
            type: entry.type,
            durable: true,
            autoDelete: false,
            vhost: entry.vhost,
          },
          bindingVersion: AMQP_BINDING_VERSION,
        },
      },
    };
  }

  const messages = Object.fromEntries(
    [...usedTypes].sort(byCodePoint).map((type) => [idOf(type), message(type)]),
  );
  const body = {
    servers: sortedKeys(servers),
    channels: sortedKeys(channels),
    operations: sortedKeys(operations),
    components: {
      schemas: { [HEADERS_SCHEMA]: eventHeadersSchema() },
      messages,
    },
  };
  const digest = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 12);
  const scope = options.service ? `service ${options.service}` : 'all services';
  return {
    asyncapi: ASYNCAPI_VERSION,
    info: {
      title: options.title ?? (options.service ? `${options.service} events` : 'Warren events'),
      // The digest of everything below: any change to a route or a contract changes it.
      version: `0.0.0+${digest}`,
      description:
        `Events declared by Warren EventRoutes (${scope}), generated by \`warren asyncapi\` from the ` +
        'compiled topology and the zod contracts of @warren/contracts. `x-warren-*` extensions: see docs/asyncapi.md.',
    },
    defaultContentType: 'application/json',
    ...body,
  };
}

/** The service documents cut down to what the routes of one namespace declare (its catalogue). */
export function servicesOfNamespace(
  services: readonly ServiceTopology[],
  namespace: string,
): ServiceTopology[] {
  const inNamespace = (route: string) => route.startsWith(`${namespace}/`);
  return services
    .map((doc) => ({
      ...doc,
      publishes: doc.publishes.filter((target) => target.routes.some(inNamespace)),
      consumes: doc.consumes.filter((consume) => inNamespace(consume.route)),
    }))
    .filter((doc) => doc.publishes.length + doc.consumes.length > 0);
}

const sortedKeys = <T>(record: Record<string, T>): Record<string, T> =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => byCodePoint(a, b)));
