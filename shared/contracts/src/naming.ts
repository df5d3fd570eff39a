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

/** A regex matching exactly the given names (RabbitMQ permission patterns). */
export function exactly(names: Iterable<string>): string {
  const sorted = [...new Set(names)].sort();
  if (sorted.length === 0) return '^$';
  const escaped = sorted.map((name) => name.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'));
  return escaped.length === 1 ? `^${escaped[0]}$` : `^(${escaped.join('|')})$`;
}

export const managedArguments = (group: string | null): Record<string, string> =>
  group === null
    ? { [MANAGED_BY_ARGUMENT]: MANAGED_BY_VALUE }
    : { [MANAGED_BY_ARGUMENT]: MANAGED_BY_VALUE, [GROUP_ARGUMENT]: group };
