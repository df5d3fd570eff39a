/**
 * Applies a plan to the broker in dependency order. New exchanges, policies, queues and
 * bindings go in batches through the definitions import endpoint (one call per kind and
 * vhost instead of one per object); updates and deletes are single calls. Everything of a
 * consumer-queue group with a change the broker cannot make in place is skipped, so a group is
 * never half-applied.
 */
import { randomBytes } from 'node:crypto';
import type {
  BindingObject,
  BrokerObject,
  ExchangeObject,
  PermissionObject,
  PolicyObject,
  QueueObject,
  UserObject,
} from '../engine/model';
import type { Plan, PlanItem } from '../engine/plan';
import { CREATE_ORDER, groupKey } from '../engine/plan';
import type { ManagementClient } from './client';
import { runLimited } from '../util/run-limited';
import { ManagementError, segment } from './client';
import { managementQueueProbe, type QueueProbe } from './queue-probe';
import { compositeKey } from '../util/keys';

export interface Credential {
  user: string;
  service: string;
  vhost: string;
  password: string;
  /** True when apply made the password up (print or store it: it is not shown again). */
  generated: boolean;
}

export interface ApplyOptions {
  /** Password for a user being created; when it returns undefined a random one is generated. */
  passwordFor?: (user: UserObject) => string | undefined;
  /** Parallel single calls. */
  concurrency?: number;
  /** Objects per definitions import call. */
  batchSize?: number;
  /**
   * Exact use of a queue, asked before deleting it under Retain. Defaults to the management
   * API's statistics, which lag up to 5 s: front ends pass an AMQP probe (see queue-probe.ts).
   */
  probeQueue?: QueueProbe;
}

export interface ApplyResult {
  applied: PlanItem[];
  skipped: { item: PlanItem; reason: string }[];
  failed: { item: PlanItem; error: string }[];
  /** Deletes the broker refused because the queue was not empty, and what was kept with them. */
  retained: { item: PlanItem; reason: string }[];
  credentials: Credential[];
}

/** A result with nothing applied yet. */
export const emptyApplyResult = (): ApplyResult => ({
  applied: [],
  skipped: [],
  failed: [],
  retained: [],
  credentials: [],
});

const BATCHED = new Set(['exchange', 'policy', 'queue', 'binding']);

function definition(object: BrokerObject): Record<string, unknown> {
  switch (object.kind) {
    case 'exchange':
      return {
        name: object.name,
        type: object.type,
        durable: true,
        auto_delete: false,
        internal: false,
        arguments: object.arguments,
      };
    case 'queue':
      return {
        name: object.name,
        durable: true,
        auto_delete: object.autoDelete,
        arguments: object.arguments,
      };
    case 'binding':
      return {
        source: object.source,
        destination: object.destination,
        destination_type: 'queue',
        routing_key: object.routingKey,
        arguments: object.arguments,
      };
    case 'policy':
      return {
        name: object.name,
        pattern: object.pattern,
        'apply-to': object.applyTo,
        priority: object.priority,
        definition: object.definition,
      };
    default:
      throw new Error(`${object.kind} objects are not imported as definitions`);
  }
}

const IMPORT_SECTION = {
  exchange: 'exchanges',
  policy: 'policies',
  queue: 'queues',
  binding: 'bindings',
} as const;

/** The single call that creates or updates one object. */
async function put(
  client: ManagementClient,
  object: BrokerObject,
  password?: string,
): Promise<void> {
  const v = segment(object.vhost);
  switch (object.kind) {
    case 'vhost':
      return client.request('PUT', `/api/vhosts/${v}`, {});
    case 'exchange': {
      const { name, ...body } = definition(object);
      return client.request('PUT', `/api/exchanges/${v}/${segment(String(name))}`, body);
    }
    case 'queue': {
      const { name, ...body } = definition(object);
      return client.request('PUT', `/api/queues/${v}/${segment(String(name))}`, body);
    }
    case 'binding':
      return client.request(
        'POST',
        `/api/bindings/${v}/e/${segment(object.source)}/q/${segment(object.destination)}`,
        {
          routing_key: object.routingKey,
          arguments: object.arguments,
        },
      );
    case 'policy': {
      const { name, ...body } = definition(object);
      return client.request('PUT', `/api/policies/${v}/${segment(String(name))}`, body);
    }
    case 'user':
      return client.request('PUT', `/api/users/${segment(object.name)}`, {
        password,
        tags: object.tags.join(','),
      });
    case 'permission':
      return client.request('PUT', `/api/permissions/${v}/${segment(object.user)}`, {
        configure: object.configure,
        write: object.write,
        read: object.read,
      });
  }
}

async function remove(client: ManagementClient, item: PlanItem): Promise<void> {
  const object = item.actual!;
  const v = segment(object.vhost);
  const paths: Record<string, () => string> = {
    permission: () => `/api/permissions/${v}/${segment((object as PermissionObject).user)}`,
    user: () => `/api/users/${segment((object as UserObject).name)}`,
    // Classic queues can also make the broker refuse a non-empty delete; quorum queues (3.10) cannot.
    queue: () => {
      const queue = object as QueueObject;
      const guard = item.ifEmpty && queue.queueType === 'classic' ? '?if-empty=true' : '';
      return `/api/queues/${v}/${segment(queue.name)}${guard}`;
    },
    binding: () => {
      const binding = object as BindingObject;
      return `/api/bindings/${v}/e/${segment(binding.source)}/q/${segment(binding.destination)}/${segment(binding.propertiesKey ?? '~')}`;
    },
    policy: () => `/api/policies/${v}/${segment((object as PolicyObject).name)}`,
    exchange: () => `/api/exchanges/${v}/${segment((object as ExchangeObject).name)}`,
  };
  try {
    await client.request('DELETE', paths[object.kind]!());
  } catch (error) {
    // Already gone (a deleted queue takes its bindings along): the goal is reached.
    if (!(error instanceof ManagementError && error.status === 404)) throw error;
  }
}

const goneKey = (kind: 'queue' | 'user', item: PlanItem) =>
  kind === 'user' ? compositeKey('user', item.name) : compositeKey('queue', item.vhost, item.name);

/** A binding to a deleted queue, or a permission of a deleted user: the broker dropped it already. */
function wentAlong(item: PlanItem, gone: ReadonlySet<string>): boolean {
  const object = item.actual;
  if (object?.kind === 'binding')
    return gone.has(compositeKey('queue', object.vhost, object.destination));
  if (object?.kind === 'permission') return gone.has(compositeKey('user', object.user));
  return false;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Groups that must not be touched: those with an impossible change, and routes bound to an exchange that has one. */
function blockedGroups(plan: Plan): Map<string, string> {
  const blocked = new Map<string, string>();
  const impossible = plan.items.filter((item) => item.action === 'impossible');
  for (const item of impossible) {
    if (item.group !== null) blocked.set(groupKey(item.vhost, item.group), item.reason!);
  }
  for (const item of plan.items) {
    const binding = item.desired?.kind === 'binding' ? item.desired : undefined;
    const exchange =
      binding &&
      impossible.find(
        (i) => i.kind === 'exchange' && i.vhost === binding.vhost && i.name === binding.source,
      );
    if (exchange && binding) blocked.set(groupKey(binding.vhost, binding.group), exchange.reason!);
  }
  return blocked;
}

export async function applyPlan(
  client: ManagementClient,
  plan: Plan,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const concurrency = options.concurrency ?? 8;
  const batchSize = options.batchSize ?? 500;
  const result = emptyApplyResult();
  const blocked = blockedGroups(plan);
  const blockReason = (item: PlanItem) =>
    item.group === null ? undefined : blocked.get(groupKey(item.vhost, item.group));

  const single = async (item: PlanItem) => {
    try {
      let password: string | undefined;
      if (item.desired?.kind === 'user') {
        const user = item.desired;
        const given = options.passwordFor?.(user);
        password = given ?? randomBytes(24).toString('base64url');
        await put(client, user, password);
        result.credentials.push({
          user: user.name,
          service: user.service,
          vhost: user.vhost,
          password,
          generated: given === undefined,
        });
      } else {
        await put(client, item.desired!);
      }
      result.applied.push(item);
    } catch (error) {
      result.failed.push({ item, error: message(error) });
    }
  };

  /** One import call per vhost and batch; a failed batch is retried object by object to name the culprit. */
  const imported = async (items: PlanItem[]) => {
    const byVhost = new Map<string, PlanItem[]>();
    for (const item of items) byVhost.set(item.vhost, [...(byVhost.get(item.vhost) ?? []), item]);
    for (const [vhost, vhostItems] of byVhost) {
      for (let start = 0; start < vhostItems.length; start += batchSize) {
        const batch = vhostItems.slice(start, start + batchSize);
        const section = IMPORT_SECTION[batch[0]!.kind as keyof typeof IMPORT_SECTION];
        try {
          await client.request('POST', `/api/definitions/${segment(vhost)}`, {
            [section]: batch.map((item) => definition(item.desired!)),
          });
          result.applied.push(...batch);
        } catch {
          await runLimited(batch, concurrency, single);
        }
      }
    }
  };

  const runnable = (item: PlanItem) => {
    const reason = blockReason(item);
    if (reason && item.action !== 'impossible') result.skipped.push({ item, reason });
    return !reason;
  };

  for (const kind of CREATE_ORDER) {
    const items = plan.items
      .filter(
        (item) => item.kind === kind && (item.action === 'create' || item.action === 'update'),
      )
      .filter(runnable);
    const creates = items.filter((item) => item.action === 'create');
    if (BATCHED.has(kind)) {
      await imported(creates);
      await runLimited(
        items.filter((item) => item.action === 'update'),
        concurrency,
        single,
      );
    } else {
      await runLimited(items, concurrency, single);
    }
  }

  for (const item of plan.items.filter((i) => i.action === 'retain')) {
    result.retained.push({ item, reason: item.reason! });
  }
  const deletes = plan.items.filter((item) => item.action === 'delete').filter(runnable);
  const exchangeGroups = new Map(
    plan.items
      .filter((item) => item.kind === 'exchange')
      .map((item) => [compositeKey(item.vhost, item.name), item.group]),
  );
  const inflow = (item: PlanItem) =>
    item.actual?.kind === 'binding' &&
    exchangeGroups.get(compositeKey(item.vhost, item.actual.source)) !== item.group;
  const keptGroups = new Map<string, string>();
  /** Queues and users this pass deleted: their bindings and permissions went with them. */
  const gone = new Set<string>();
  const removeItem = async (item: PlanItem) => {
    const kept = item.group === null ? undefined : keptGroups.get(groupKey(item.vhost, item.group));
    if (kept) {
      result.retained.push({ item, reason: kept });
      return;
    }
    if (wentAlong(item, gone)) {
      result.applied.push(item);
      return;
    }
    try {
      await remove(client, item);
      result.applied.push(item);
      if (item.kind === 'queue' || item.kind === 'user') gone.add(goneKey(item.kind, item));
    } catch (error) {
      if (
        item.kind === 'queue' &&
        item.ifEmpty &&
        error instanceof ManagementError &&
        error.status === 400
      ) {
        // A classic queue filled between the check and the delete: the broker refused, as asked.
        const reason = `kept: queue "${item.name}" is not empty and deletionPolicy is Retain`;
        keptGroups.set(groupKey(item.vhost, item.group!), reason);
        result.retained.push({ item, reason });
      } else {
        result.failed.push({ item, error: message(error) });
      }
    }
  };
  const ofKind = (kind: string) => deletes.filter((item) => item.kind === kind && !inflow(item));

  // 1. Access (a user's permissions go with it), and the bindings that bring messages into a
  // group: a removed route stops receiving.
  await runLimited(ofKind('user'), concurrency, removeItem);
  await runLimited(ofKind('permission'), concurrency, removeItem);
  await runLimited(deletes.filter(inflow), concurrency, removeItem);

  // 2. Queues, a group at a time. Under Retain every queue of the group must be proven unused first.
  const probe = options.probeQueue ?? managementQueueProbe(client);
  const queueGroups = new Map<string, PlanItem[]>();
  for (const item of ofKind('queue')) {
    const key = groupKey(item.vhost, item.group!);
    queueGroups.set(key, [...(queueGroups.get(key) ?? []), item]);
  }
  await runLimited([...queueGroups.entries()], concurrency, async ([key, items]) => {
    // Retry and dead-letter queues first: messages only move from them towards the consumer queue.
    const guarded = items
      .filter((item) => item.ifEmpty)
      .sort((a, b) => Number(a.name === a.group) - Number(b.name === b.group));
    for (const item of guarded) {
      try {
        const use = await probe(item.vhost, item.name);
        if (use.messages > 0 || use.consumers > 0) {
          keptGroups.set(
            key,
            `kept: queue "${item.name}" holds ${use.messages} messages and has ${use.consumers} consumers; deletionPolicy is Retain`,
          );
          break;
        }
      } catch (error) {
        keptGroups.set(
          key,
          `kept: could not check queue "${item.name}" is unused: ${message(error)}`,
        );
        break;
      }
    }
    for (const item of items) await removeItem(item);
  });

  // 3. What is left of deleted groups, and exchanges no route uses any more.
  for (const kind of ['binding', 'policy', 'exchange']) {
    await runLimited(ofKind(kind), concurrency, removeItem);
  }
  return result;
}
