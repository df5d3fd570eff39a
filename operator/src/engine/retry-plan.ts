/**
 * A route's retry plan from its RetryPolicy: the attempts and delays the consumer keeps to, and
 * the retry exchange and delay queues that carry a message between attempts (none with the
 * broker strategy, where the consumer queue delays the message itself). Pure.
 */
import type { RetryPlan } from '@warren/contracts';
import type { EventRoute, RetryPolicy } from '@warren/crds';
import { formatDuration, resourceKey } from '@warren/crds/core';
import { DELAYED_RETRY_SINCE, type BrokerProfile } from './broker-version';
import { retryDelays } from './delays';
import { retryExchangeName, retryQueueName } from './naming';

export function retryPlanFor(queue: string, policy: RetryPolicy | undefined): RetryPlan {
  const strategy = policy?.spec.strategy ?? 'ttl-queues';
  if (!policy || policy.spec.maxAttempts === 1) {
    return {
      policy: policy ? resourceKey(policy) : null,
      strategy,
      maxAttempts: 1,
      delaysMs: [],
      nonRetryableErrors: policy?.spec.nonRetryableErrors ?? [],
      exchange: '',
      levels: [],
    };
  }
  const delaysMs = retryDelays(policy.spec);
  // Strategy broker: the consumer queue delays the message itself, no retry exchange or queues.
  const levels =
    strategy === 'broker'
      ? []
      : [...new Set(delaysMs)].map((delayMs) => {
          const name = retryQueueName(queue, formatDuration(delayMs));
          return { delayMs, queue: name, routingKey: name };
        });
  return {
    policy: resourceKey(policy),
    strategy,
    maxAttempts: policy.spec.maxAttempts,
    delaysMs,
    nonRetryableErrors: [...policy.spec.nonRetryableErrors],
    exchange: strategy === 'broker' ? '' : retryExchangeName(queue),
    levels,
  };
}

/**
 * Why a route cannot use its policy's broker strategy (RabbitMQ delayed retry), or undefined.
 * A broker whose version is unknown (no read-back, e.g. `warren topology` without a broker) is
 * given the benefit of the doubt; the operator and `warren apply` always know it.
 */
export function brokerStrategyProblem(
  route: EventRoute,
  policy: RetryPolicy,
  broker: BrokerProfile | undefined,
): string | undefined {
  const field = `RetryPolicy ${resourceKey(policy)} has spec.strategy broker`;
  if (route.spec.consumer.queueType !== 'quorum')
    return `${field}, which needs a quorum queue: spec.consumer.queueType is ${route.spec.consumer.queueType}`;
  if (broker && !broker.delayedRetry)
    return `${field}, which needs RabbitMQ ${DELAYED_RETRY_SINCE}+ (delayed retry): the broker is ${broker.version.raw}; use strategy ttl-queues`;
  return undefined;
}
