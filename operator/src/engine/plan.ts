/**
 * The planner: a pure function from the desired topology and the broker's actual state (Warren's
 * objects only) to the list of changes, in the order they must be applied.
 */
import type {
  BrokerObject,
  BrokerObjectKind,
  BrokerState,
  DesiredTopology,
  QueueObject,
} from './model';
import { byCodePoint } from '../util/order';
import { compositeKey } from '../util/keys';
import { describeProfile } from './broker-version';

export type PlanAction = 'create' | 'update' | 'delete' | 'unchanged' | 'impossible' | 'retain';

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface PlanItem {
  action: PlanAction;
  kind: BrokerObjectKind;
  vhost: string;
  /** Display name: the object's name; `source -> destination (key)` for a binding, the user for a permission. */
  name: string;
  group: string | null;
  desired?: BrokerObject;
  actual?: BrokerObject;
  /** What differs (update, impossible). */
  changes: FieldChange[];
  /** Why (impossible, retain, and deletes of queues that may hold messages). */
  reason?: string;
  /** A queue delete the broker must refuse if the queue is not empty (deletionPolicy Retain). */
  ifEmpty?: boolean;
}

export interface Plan {
  items: PlanItem[];
  /** True when the broker differs from the desired topology (including impossible changes). */
  hasChanges: boolean;
  counts: Record<PlanAction, number>;
  /** What the broker's version changed in the compiled arguments (empty when unknown or 3.x). */
  broker?: string[];
}

export interface PlanOptions {
  /**
   * deletionPolicy of consumer-queue groups that no desired route has any more, keyed
   * `<vhost>\0<queue>` (the operator knows it from the route being finalized). Unknown groups
   * are treated as Retain: the safe default.
   */
  removedGroupPolicies?: ReadonlyMap<string, 'Retain' | 'Delete'>;
}

/** Creation order. Policies precede queues so no queue is ever born without its dead-letter exchange. */
export const CREATE_ORDER: BrokerObjectKind[] = [
  'vhost',
  'exchange',
  'policy',
  'queue',
  'binding',
  'user',
  'permission',
];
/**
 * Deletion order. Queues go first within their group: a queue refused as non-empty keeps the
 * rest of its group, and deleting a queue takes its bindings with it.
 */
export const DELETE_ORDER: BrokerObjectKind[] = [
  'permission',
  'user',
  'queue',
  'binding',
  'policy',
  'exchange',
];

export const groupKey = (vhost: string, group: string) => compositeKey(vhost, group);

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function identity(object: BrokerObject): {
  key: string;
  name: string;
  group: string | null;
} {
  switch (object.kind) {
    case 'vhost':
      return { key: object.vhost, name: object.vhost, group: null };
    case 'exchange':
      return { key: object.name, name: object.name, group: object.group };
    case 'queue':
      return { key: object.name, name: object.name, group: object.group };
    case 'binding': {
      const name = `${object.source} -> ${object.destination} (${object.routingKey})`;
      return { key: `${name}${canonical(object.arguments)}`, name, group: object.group };
    }
    case 'policy':
      return { key: object.name, name: object.name, group: object.group };
    case 'user':
      return { key: object.name, name: object.name, group: null };
    case 'permission':
      return { key: object.user, name: object.user, group: null };
  }
}

/** Fields whose difference the broker cannot change in place (`immutable`), or can (`mutable`). */
function compare(
  desired: BrokerObject,
  actual: BrokerObject,
): { immutable: FieldChange[]; mutable: FieldChange[] } {
  const immutable: FieldChange[] = [];
  const mutable: FieldChange[] = [];
  const check = (list: FieldChange[], field: string, to: unknown, from: unknown) => {
    if (canonical(to) !== canonical(from)) list.push({ field, from, to });
  };
  const argumentChanges = (to: Record<string, unknown>, from: Record<string, unknown>) => {
    for (const key of [...new Set([...Object.keys(to), ...Object.keys(from)])].sort()) {
      check(immutable, `arguments.${key}`, to[key], from[key]);
    }
  };
  if (desired.kind === 'exchange' && actual.kind === 'exchange') {
    check(immutable, 'type', desired.type, actual.type);
    argumentChanges(desired.arguments, actual.arguments);
  } else if (desired.kind === 'queue' && actual.kind === 'queue') {
    check(immutable, 'type', desired.queueType, actual.queueType);
    check(immutable, 'autoDelete', desired.autoDelete, actual.autoDelete);
    argumentChanges(
      withoutKey(desired.arguments, 'x-queue-type'),
      withoutKey(actual.arguments, 'x-queue-type'),
    );
  } else if (desired.kind === 'policy' && actual.kind === 'policy') {
    check(mutable, 'pattern', desired.pattern, actual.pattern);
    check(mutable, 'applyTo', desired.applyTo, actual.applyTo);
    check(mutable, 'priority', desired.priority, actual.priority);
    check(mutable, 'definition', desired.definition, actual.definition);
  } else if (desired.kind === 'permission' && actual.kind === 'permission') {
    check(mutable, 'configure', desired.configure, actual.configure);
    check(mutable, 'write', desired.write, actual.write);
    check(mutable, 'read', desired.read, actual.read);
  }
  return { immutable, mutable };
}

function withoutKey(record: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _omitted, ...rest } = record;
  return rest;
}

function objectsOf(state: BrokerState): BrokerObject[] {
  return [
    ...state.vhosts,
    ...state.exchanges,
    ...state.queues,
    ...state.bindings,
    ...state.policies,
    ...state.users,
    ...state.permissions,
  ];
}

const indexKey = (object: BrokerObject) =>
  compositeKey(object.kind, object.kind === 'user' ? '' : object.vhost, identity(object).key);

export function plan(
  desired: DesiredTopology | BrokerState,
  actual: BrokerState,
  options: PlanOptions = {},
): Plan {
  const actualByKey = new Map(objectsOf(actual).map((object) => [indexKey(object), object]));
  const desiredKeys = new Set<string>();
  const items: PlanItem[] = [];

  for (const object of objectsOf(desired)) {
    const key = indexKey(object);
    desiredKeys.add(key);
    const { name, group } = identity(object);
    const base = { kind: object.kind, vhost: object.vhost, name, group, desired: object };
    const existing = actualByKey.get(key);
    if (!existing) {
      items.push({ ...base, action: 'create', changes: [] });
      continue;
    }
    const { immutable, mutable } = compare(object, existing);
    if (immutable.length > 0) {
      items.push({
        ...base,
        actual: existing,
        action: 'impossible',
        changes: immutable,
        reason: `RabbitMQ cannot change ${immutable.map((c) => c.field).join(', ')} of ${object.kind} "${name}" in place: delete it (losing its messages) or choose a new name`,
      });
    } else {
      items.push({
        ...base,
        actual: existing,
        action: mutable.length > 0 ? 'update' : 'unchanged',
        changes: mutable,
      });
    }
  }

  const routePolicies = new Map(
    'routes' in desired
      ? desired.routes.map((route) => [groupKey(route.vhost, route.queue), route.deletionPolicy])
      : [],
  );
  const deletionPolicyOf = (vhost: string, group: string) =>
    routePolicies.get(groupKey(vhost, group)) ??
    options.removedGroupPolicies?.get(groupKey(vhost, group)) ??
    'Retain';

  const deletions = objectsOf(actual).filter(
    (object) => object.kind !== 'vhost' && !desiredKeys.has(indexKey(object)),
  );
  // A group keeps every object it would lose while one of its queues still holds messages under Retain.
  const retainedGroups = new Map<string, QueueObject>();
  for (const object of deletions) {
    if (
      object.kind === 'queue' &&
      (object.messages ?? 0) > 0 &&
      deletionPolicyOf(object.vhost, object.group) === 'Retain'
    ) {
      retainedGroups.set(groupKey(object.vhost, object.group), object);
    }
  }
  const exchangeGroups = new Map(
    actual.exchanges.map((e) => [compositeKey(e.vhost, e.name), e.group]),
  );
  const readers = retainedReaders(actual, retainedGroups);
  for (const object of deletions) {
    const { name, group } = identity(object);
    const base = {
      kind: object.kind,
      vhost: object.vhost,
      name,
      group,
      actual: object,
      changes: [],
    };
    // A binding from outside the group brings new messages in: it goes even when the group stays.
    const inflow =
      object.kind === 'binding' &&
      exchangeGroups.get(compositeKey(object.vhost, object.source)) !== group;
    const holder =
      object.kind === 'user' || object.kind === 'permission'
        ? readers.get(object.kind === 'user' ? object.name : object.user)
        : group === null || inflow
          ? undefined
          : retainedGroups.get(groupKey(object.vhost, group));
    if (holder) {
      items.push({
        ...base,
        action: 'retain',
        reason: `kept: queue "${holder.name}" holds ${holder.messages} messages and deletionPolicy is Retain`,
      });
    } else if (object.kind === 'queue') {
      const ifEmpty = deletionPolicyOf(object.vhost, object.group) === 'Retain';
      items.push({
        ...base,
        action: 'delete',
        ifEmpty,
        ...(ifEmpty ? { reason: 'deleted only if empty (deletionPolicy Retain)' } : {}),
      });
    } else {
      items.push({ ...base, action: 'delete' });
    }
  }

  const rank = (item: PlanItem) =>
    item.action === 'delete'
      ? 100 + DELETE_ORDER.indexOf(item.kind)
      : CREATE_ORDER.indexOf(item.kind);
  items.sort(
    (a, b) => rank(a) - rank(b) || byCodePoint(a.vhost, b.vhost) || byCodePoint(a.name, b.name),
  );

  const summary = summarize(items);
  const broker = 'broker' in desired ? desired.broker : undefined;
  return broker ? { ...summary, broker: describeProfile(broker) } : summary;
}

/**
 * Users (by name) whose read permission covers a queue of a retained group: a service keeps its
 * user, and so the way to drain what its queue still holds, as long as the queue is retained.
 */
function retainedReaders(
  actual: BrokerState,
  retainedGroups: ReadonlyMap<string, QueueObject>,
): Map<string, QueueObject> {
  const readers = new Map<string, QueueObject>();
  if (retainedGroups.size === 0) return readers;
  const kept = actual.queues.filter((queue) =>
    retainedGroups.has(groupKey(queue.vhost, queue.group)),
  );
  for (const permission of actual.permissions) {
    const reads = readPattern(permission.read);
    const holder = kept.find((queue) => queue.vhost === permission.vhost && reads(queue.name));
    if (holder && !readers.has(permission.user))
      readers.set(permission.user, retainedGroups.get(groupKey(holder.vhost, holder.group))!);
  }
  return readers;
}

/** A RabbitMQ permission pattern as a test; one that is not a valid regex matches nothing. */
function readPattern(pattern: string): (name: string) => boolean {
  try {
    const regex = new RegExp(pattern);
    return (name) => regex.test(name);
  } catch {
    return () => false;
  }
}

/** A plan of these items, with its counts. */
export function summarize(items: PlanItem[]): Plan {
  const counts: Record<PlanAction, number> = {
    create: 0,
    update: 0,
    delete: 0,
    unchanged: 0,
    impossible: 0,
    retain: 0,
  };
  for (const item of items) counts[item.action] += 1;
  return {
    items,
    hasChanges: counts.create + counts.update + counts.delete + counts.impossible > 0,
    counts,
  };
}
