import type { ResourceDefinition } from './crd';
import { ageColumn, readyColumn } from './crd';
import {
  array,
  conditions,
  duration,
  enumOf,
  integer,
  number,
  object,
  observedGeneration,
  string,
} from './openapi';

export const retryPolicy: ResourceDefinition = {
  kind: 'RetryPolicy',
  plural: 'retrypolicies',
  singular: 'retrypolicy',
  shortNames: ['rp'],
  description:
    'How often and how late a failed message is delivered again before it is dead-lettered. EventRoutes refer to it by name.',
  spec: object(
    'The retry policy.',
    {
      maxAttempts: integer(
        'Total deliveries to the handler, the first one included (3: the seed three strikes).',
        {
          minimum: 1,
          maximum: 50,
          default: 3,
        },
      ),
      backoff: object(
        'The delay before each new attempt. Each distinct delay gets its own TTL retry queue, so a short delay never waits behind a long one.',
        {
          type: enumOf(
            'fixed: every delay is initialDelay. linear: the delay before attempt n+1 is initialDelay * n, capped at maxDelay. exponential: the delay before attempt n+1 is initialDelay * multiplier^(n-1), capped at maxDelay.',
            ['fixed', 'linear', 'exponential'],
            { default: 'exponential' },
          ),
          initialDelay: duration('Delay before the second attempt, e.g. "500ms", "1s", "1m30s".', {
            default: '1s',
          }),
          multiplier: number(
            'Growth factor of exponential backoff (ignored by fixed and linear).',
            {
              minimum: 1,
              maximum: 10,
              default: 2,
            },
          ),
          maxDelay: duration('Upper bound of any delay.', { default: '5m' }),
        },
        {
          // Spelled out: the API server checks a default against the CEL rules as it stands.
          default: { type: 'exponential', initialDelay: '1s', multiplier: 2, maxDelay: '5m' },
          'x-kubernetes-validations': [
            {
              rule: 'duration(self.maxDelay) >= duration(self.initialDelay)',
              message: 'maxDelay must be at least initialDelay',
              fieldPath: '.maxDelay',
            },
            {
              rule: "duration(self.initialDelay) >= duration('1ms')",
              message: 'initialDelay must be at least 1ms',
              fieldPath: '.initialDelay',
            },
            {
              rule: "duration(self.maxDelay) <= duration('24h')",
              message: 'maxDelay must be at most 24h',
              fieldPath: '.maxDelay',
            },
          ],
        },
      ),
      strategy: enumOf(
        'How a message waits before its next attempt. ttl-queues: one TTL retry queue per distinct delay (any backoff, any RabbitMQ). broker: the consumer queue delays the rejected message itself (RabbitMQ 4.3+ delayed retry, x-delayed-retry-*): no retry queues, no message rewrite; fixed or linear backoff, quorum queues only.',
        ['ttl-queues', 'broker'],
        { default: 'ttl-queues' },
      ),
      nonRetryableErrors: array(
        'Error kinds (the error name or code) that go to the dead-letter queue at once, without retry.',
        string('An error name or code, e.g. ValidationError or P2002.', {
          pattern: '^[A-Za-z0-9_.:-]+$',
          maxLength: 128,
        }),
        { maxItems: 64, default: [], 'x-kubernetes-list-type': 'set' },
      ),
    },
    {
      'x-kubernetes-validations': [
        {
          rule: "!has(self.strategy) || self.strategy != 'broker' || self.backoff.type != 'exponential'",
          message:
            "strategy broker needs backoff.type fixed or linear (RabbitMQ's delayed retry grows linearly at most): exponential backoff needs strategy ttl-queues",
          fieldPath: '.strategy',
        },
      ],
    },
  ),
  status: object('Observed state, written by the operator.', {
    observedGeneration: observedGeneration(),
    conditions: conditions(),
    delays: array(
      'The delays the policy compiles to, one per retry, e.g. ["1s", "2s"].',
      string('A delay.', { maxLength: 32 }),
      {
        maxItems: 50,
        'x-kubernetes-list-type': 'atomic',
      },
    ),
    routes: integer('Number of EventRoutes using the policy.', { minimum: 0 }),
  }),
  printerColumns: [
    {
      name: 'Attempts',
      type: 'integer',
      jsonPath: '.spec.maxAttempts',
      description: 'Total deliveries.',
    },
    {
      name: 'Backoff',
      type: 'string',
      jsonPath: '.spec.backoff.type',
      description: 'fixed, linear or exponential.',
    },
    {
      name: 'Initial',
      type: 'string',
      jsonPath: '.spec.backoff.initialDelay',
      description: 'First delay.',
    },
    {
      name: 'Max',
      type: 'string',
      jsonPath: '.spec.backoff.maxDelay',
      description: 'Largest delay.',
    },
    {
      name: 'Strategy',
      type: 'string',
      jsonPath: '.spec.strategy',
      description: 'ttl-queues or broker.',
      priority: 1,
    },
    {
      name: 'Routes',
      type: 'integer',
      jsonPath: '.status.routes',
      description: 'Routes using it.',
      priority: 1,
    },
    readyColumn,
    ageColumn,
  ],
};
