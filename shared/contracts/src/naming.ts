/**
 * Every broker name Warren derives, in one place (documented in docs/naming.md). Names are
 * pure functions of the resources, so two runs, or the CLI and the operator, always agree.
 */

/** Marks exchanges, queues and bindings as Warren's: objects without it are never touched. */
export const MANAGED_BY_ARGUMENT = 'x-warren-managed-by';
export const MANAGED_BY_VALUE = 'warren';
/** The consumer queue a queue or exchange exists for, so a group is kept or deleted whole. */
export const GROUP_ARGUMENT = 'x-warren-group';
/** Policies named `warren.*` are Warren's (it declares none now; the plan removes old ones). */
export const POLICY_PREFIX = 'warren.';
/** Tag on every broker user Warren creates. */
export const USER_TAG = 'warren-managed';
export const DEFAULT_VHOST = '/';

export const consumerQueueName = (consumerService: string, routeName: string): string =>
  `${consumerService}.${routeName}`;

export const retryExchangeName = (queue: string): string => `${queue}.retry`;

/** One TTL queue per delay, named by the delay in its shortest form (`<queue>.retry.1s`). */
export const retryQueueName = (queue: string, delay: string): string => `${queue}.retry.${delay}`;

export const deadLetterExchangeName = (queue: string): string => `${queue}.dlx`;

export const deadLetterQueueName = (queue: string): string => `${queue}.dlq`;

/** `warren-<service>` in the default vhost, `warren-<service>@<vhost>` elsewhere. */
export const serviceUserName = (service: string, vhost: string): string =>
  vhost === DEFAULT_VHOST ? `warren-${service}` : `warren-${service}@${vhost}`;

/**
 * The broker user KEDA reads queue depths with (one per vhost holding an autoscaled queue):
 * tag `monitoring` for the management API, permissions `^$` everywhere, so it can see a queue's
 * depth but never read, write or declare anything. The dot keeps it apart from service names.
 */
export const AUTOSCALER_SERVICE = 'keda.scaler';
export const AUTOSCALER_TAG = 'monitoring';
export const autoscalerUserName = (vhost: string): string =>
  serviceUserName(AUTOSCALER_SERVICE, vhost);

/** The longest permission pattern RabbitMQ takes (4.3 refuses 1,025 characters: `invalid_regexp`). */
export const MAX_PERMISSION_PATTERN = 1024;

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/**
 * A regex matching exactly the given names (RabbitMQ permission patterns): an alternation of
 * the names while it fits in MAX_PERMISSION_PATTERN, else the same set factored (a service with
 * tens of routes), which is still exact: each queue with its `.dlq`/`.retry.*` names becomes
 * one stem, and stems with the same suffixes share them (`^(?:svc\.(?:a|b))(?:|\.dlq)$`).
 * When even that does not fit (a service with some hundreds of routes), the names' common
 * prefix up to a dot (`^svc\.`: every name under the service's own), the broker refusing any
 * longer pattern; without such a prefix, the factored pattern (which the broker refuses, naming it).
 */
export function exactly(names: Iterable<string>): string {
  const sorted = [...new Set(names)].sort();
  if (sorted.length === 0) return '^$';
  const escaped = sorted.map(escapeRegex);
  const flat = escaped.length === 1 ? `^${escaped[0]}$` : `^(${escaped.join('|')})$`;
  if (flat.length <= MAX_PERMISSION_PATTERN) return flat;
  const exact = `^${factored(sorted)}$`;
  const prefix = dottedPrefix(sorted);
  return exact.length <= MAX_PERMISSION_PATTERN || prefix === ''
    ? exact
    : `^${escapeRegex(prefix)}`;
}

/** The longest common prefix of sorted names that ends with a dot ('' when there is none). */
function dottedPrefix(sorted: readonly string[]): string {
  const [first, last] = [sorted[0]!, sorted[sorted.length - 1]!];
  let length = 0;
  while (length < first.length && first[length] === last[length]) length++;
  return first.slice(0, first.lastIndexOf('.', length - 1) + 1);
}

/** Names grouped by stem (a name no other name extends at a dot), stems by their suffix set. */
function factored(names: readonly string[]): string {
  const stems = names.filter((name) => !names.some((other) => name.startsWith(`${other}.`)));
  const suffixesOf = new Map(stems.map((stem) => [stem, [] as string[]]));
  for (const name of names) {
    const stem = stems.find((s) => name === s || name.startsWith(`${s}.`))!;
    suffixesOf.get(stem)!.push(escapeRegex(name.slice(stem.length)));
  }
  const bySuffixes = new Map<string, string[]>();
  for (const [stem, suffixes] of suffixesOf) {
    const key = suffixes.sort().join('|');
    bySuffixes.set(key, [...(bySuffixes.get(key) ?? []), stem]);
  }
  const groups = [...bySuffixes].map(
    ([suffixes, group]) => `${prefixTree(group)}${suffixes === '' ? '' : `(?:${suffixes})`}`,
  );
  return groups.length === 1 ? groups[0]! : `(?:${groups.join('|')})`;
}

interface TrieNode {
  end: boolean;
  next: Map<string, TrieNode>;
}

/** The names as a regex over their character trie (common prefixes once): `svc\.(?:a|b)`. */
function prefixTree(names: readonly string[]): string {
  const root: TrieNode = { end: false, next: new Map() };
  for (const name of names) {
    let node = root;
    for (const char of name) {
      let child = node.next.get(char);
      if (!child) node.next.set(char, (child = { end: false, next: new Map() }));
      node = child;
    }
    node.end = true;
  }
  const emit = (node: TrieNode): string => {
    const branches = [...node.next.keys()]
      .sort()
      .map((char) => escapeRegex(char) + emit(node.next.get(char)!));
    if (branches.length === 0) return '';
    if (node.end) return `(?:${branches.join('|')})?`;
    return branches.length === 1 ? branches[0]! : `(?:${branches.join('|')})`;
  };
  return emit(root);
}

export const managedArguments = (group: string | null): Record<string, string> =>
  group === null
    ? { [MANAGED_BY_ARGUMENT]: MANAGED_BY_VALUE }
    : { [MANAGED_BY_ARGUMENT]: MANAGED_BY_VALUE, [GROUP_ARGUMENT]: group };
