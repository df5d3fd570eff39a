/**
 * Reads back what the broker has of Warren's in the given vhosts. Objects without Warren's
 * marks (see engine/naming.ts) are left out, so they are never planned, changed or deleted.
 */
import type { ExchangeType, QueueType } from '@warren/contracts';
import type {
  Arguments,
  BindingObject,
  BrokerState,
  ExchangeObject,
  PermissionObject,
  PolicyObject,
  QueueObject,
  UserObject,
} from '../engine/model';
import { emptyState } from '../engine/model';
import {
  DEFAULT_VHOST,
  GROUP_ARGUMENT,
  MANAGED_BY_ARGUMENT,
  MANAGED_BY_VALUE,
  POLICY_PREFIX,
  USER_TAG,
} from '../engine/naming';
import type { ManagementClient } from './client';
import { segment } from './client';

interface ApiExchange {
  name: string;
  type: string;
  arguments: Arguments;
}
interface ApiQueue {
  name: string;
  type?: string;
  auto_delete: boolean;
  arguments: Arguments;
  messages?: number;
}
interface ApiConsumer {
  queue?: { name: string };
}

/**
 * The read-back asks for the fields it uses and no statistics (RabbitMQ 3.8+ honour
 * `disable_stats` and `columns`): a queue's depth comes from `enable_queue_totals` (the queue's
 * own counters, no stats database), its consumers from the vhost's consumer list.
 */
const EXCHANGE_QUERY = 'disable_stats=true&columns=name,type,arguments';
const QUEUE_QUERY =
  'disable_stats=true&enable_queue_totals=true&columns=name,type,auto_delete,arguments,messages';
const BINDING_QUERY =
  'columns=source,destination,destination_type,routing_key,arguments,properties_key';
interface ApiBinding {
  source: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments: Arguments;
  properties_key: string;
}
interface ApiPolicy {
  name: string;
  pattern: string;
  'apply-to': PolicyObject['applyTo'];
  priority: number;
  definition: Record<string, unknown>;
}
interface ApiPermission {
  user: string;
  configure: string;
  write: string;
  read: string;
}
interface ApiUser {
  name: string;
  tags: string | string[];
}

const isManaged = (args: Arguments | undefined) => args?.[MANAGED_BY_ARGUMENT] === MANAGED_BY_VALUE;
const groupOf = (args: Arguments): string | null =>
  typeof args[GROUP_ARGUMENT] === 'string' ? (args[GROUP_ARGUMENT] as string) : null;
const tagsOf = (user: ApiUser) =>
  Array.isArray(user.tags) ? user.tags : user.tags.split(',').filter(Boolean);

/** The vhost a Warren user was made for, read from its name (`warren-<service>[@<vhost>]`). */
function userIdentity(name: string): { service: string; vhost: string } {
  const rest = name.replace(/^warren-/, '');
  const at = rest.indexOf('@');
  return at < 0
    ? { service: rest, vhost: DEFAULT_VHOST }
    : { service: rest.slice(0, at), vhost: rest.slice(at + 1) };
}

export async function readUsers(client: ManagementClient): Promise<UserObject[]> {
  const users = await client.request<ApiUser[]>('GET', '/api/users?columns=name,tags');
  return users
    .filter((user) => tagsOf(user).includes(USER_TAG))
    .map((user) => ({
      kind: 'user',
      name: user.name,
      tags: tagsOf(user),
      ...userIdentity(user.name),
    }));
}

async function readVhost(
  client: ManagementClient,
  vhost: string,
  state: BrokerState,
  managedUsers: Set<string>,
): Promise<void> {
  const v = segment(vhost);
  if (!(await client.find(`/api/vhosts/${v}`))) return;
  state.vhosts.push({ kind: 'vhost', vhost });
  const [exchanges, queues, consumers, bindings, policies, permissions] = await Promise.all([
    client.request<ApiExchange[]>('GET', `/api/exchanges/${v}?${EXCHANGE_QUERY}`),
    client.request<ApiQueue[]>('GET', `/api/queues/${v}?${QUEUE_QUERY}`),
    client.request<ApiConsumer[]>('GET', `/api/consumers/${v}?columns=queue.name`),
    client.request<ApiBinding[]>('GET', `/api/bindings/${v}?${BINDING_QUERY}`),
    client.request<ApiPolicy[]>('GET', `/api/policies/${v}`),
    client.request<ApiPermission[]>('GET', `/api/vhosts/${v}/permissions`),
  ]);
  const consumerCounts = new Map<string, number>();
  for (const consumer of consumers) {
    const queue = consumer.queue?.name;
    if (queue !== undefined) consumerCounts.set(queue, (consumerCounts.get(queue) ?? 0) + 1);
  }
  const queueGroups = new Map<string, string>();
  for (const exchange of exchanges.filter((e) => isManaged(e.arguments))) {
    state.exchanges.push({
      kind: 'exchange',
      vhost,
      name: exchange.name,
      type: exchange.type as ExchangeType,
      arguments: exchange.arguments,
      group: groupOf(exchange.arguments),
    } satisfies ExchangeObject);
  }
  for (const queue of queues.filter((q) => isManaged(q.arguments))) {
    const group = groupOf(queue.arguments) ?? queue.name;
    queueGroups.set(queue.name, group);
    state.queues.push({
      kind: 'queue',
      vhost,
      name: queue.name,
      queueType: (queue.type ?? queue.arguments['x-queue-type'] ?? 'classic') as QueueType,
      autoDelete: queue.auto_delete,
      arguments: queue.arguments,
      group,
      ...(queue.messages === undefined ? {} : { messages: queue.messages }),
      consumers: consumerCounts.get(queue.name) ?? 0,
    } satisfies QueueObject);
  }
  for (const binding of bindings.filter(
    (b) => isManaged(b.arguments) && b.destination_type === 'queue',
  )) {
    state.bindings.push({
      kind: 'binding',
      vhost,
      source: binding.source,
      destination: binding.destination,
      routingKey: binding.routing_key,
      arguments: binding.arguments,
      group: queueGroups.get(binding.destination) ?? binding.destination,
      propertiesKey: binding.properties_key,
    } satisfies BindingObject);
  }
  for (const policy of policies.filter((p) => p.name.startsWith(POLICY_PREFIX))) {
    state.policies.push({
      kind: 'policy',
      vhost,
      name: policy.name,
      pattern: policy.pattern,
      applyTo: policy['apply-to'],
      priority: policy.priority,
      definition: policy.definition,
      group: policy.name.slice(POLICY_PREFIX.length),
    });
  }
  for (const permission of permissions.filter((p) => managedUsers.has(p.user))) {
    state.permissions.push({
      kind: 'permission',
      vhost,
      user: permission.user,
      configure: permission.configure,
      write: permission.write,
      read: permission.read,
    } satisfies PermissionObject);
  }
}

/** Warren's objects in the given vhosts: 1 call for users, then 7 per vhost. */
export async function readActualState(
  client: ManagementClient,
  vhosts: Iterable<string>,
): Promise<BrokerState> {
  const state = emptyState();
  const wanted = new Set(vhosts);
  const users = await readUsers(client);
  state.users = users.filter((user) => wanted.has(user.vhost));
  const managedUsers = new Set(users.map((user) => user.name));
  for (const vhost of wanted) await readVhost(client, vhost, state, managedUsers);
  return state;
}
