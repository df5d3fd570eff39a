import {
  UNBOUNDED_DELIVERY_LIMIT,
  brokerProfile,
  describeProfile,
  parseBrokerVersion,
} from '../src/engine/broker-version';
import { compile } from '../src/engine/compile';
import { plan } from '../src/engine/plan';
import { emptyState } from '../src/engine/model';
import { loadExamples } from './resources';

const Q = 'notification-service.user-created-to-notification';

describe('the broker version in the engine (pure)', () => {
  it('parses what /api/overview reports, and refuses what is no version', () => {
    expect(parseBrokerVersion('4.3.6')).toMatchObject({ major: 4, minor: 3, patch: 6 });
    expect(parseBrokerVersion('3.10.8')).toMatchObject({ major: 3, minor: 10, patch: 8 });
    expect(parseBrokerVersion('4.2')).toMatchObject({ major: 4, minor: 2, patch: 0 });
    expect(() => parseBrokerVersion('latest')).toThrow('"latest" is not a RabbitMQ version');
  });

  it('knows which versions have a default quorum delivery limit and stricter passive declares', () => {
    expect(brokerProfile('3.10.8')).toMatchObject({
      quorumDeliveryLimitDefault: null,
      passiveDeclareNeedsPermission: false,
    });
    expect(brokerProfile('4.0.5')).toMatchObject({
      quorumDeliveryLimitDefault: 20,
      passiveDeclareNeedsPermission: false,
    });
    expect(brokerProfile('4.2.5').passiveDeclareNeedsPermission).toBe(false);
    expect(brokerProfile('4.2.6').passiveDeclareNeedsPermission).toBe(true);
    expect(brokerProfile('4.3.6').passiveDeclareNeedsPermission).toBe(true);
  });

  it('knows delayed retry (RetryPolicy strategy broker) from 4.3 on', () => {
    expect(brokerProfile('3.10.8').delayedRetry).toBe(false);
    expect(brokerProfile('4.2.9').delayedRetry).toBe(false);
    expect(brokerProfile('4.3.0').delayedRetry).toBe(true);
    expect(describeProfile(brokerProfile('4.3.6')).join('\n')).toContain('delayed retry');
    expect(describeProfile(brokerProfile('4.0.5')).join('\n')).not.toContain('delayed retry');
  });

  it('compiles 3.x (and an unknown version) exactly as before: no delivery limit, no strategy', async () => {
    const { routes, policies } = await loadExamples();
    const before = compile(routes, policies);
    const on310 = compile(routes, policies, { brokerVersion: '3.10.8' });
    expect(on310.queues).toEqual(before.queues);
    for (const queue of before.queues) {
      expect(queue.arguments).not.toHaveProperty('x-delivery-limit');
      expect(queue.arguments).not.toHaveProperty('x-dead-letter-strategy');
    }
  });

  it.each(['4.0.5', '4.3.6'])(
    'on %s: no broker delivery limit on consumer and dead-letter queues, at-least-once retry queues',
    async (version) => {
      const { routes, policies } = await loadExamples();
      const desired = compile(routes, policies, { brokerVersion: version });
      const queue = (name: string) => desired.queues.find((q) => q.name === name)!.arguments;
      expect(queue(Q)).toMatchObject({ 'x-delivery-limit': UNBOUNDED_DELIVERY_LIMIT });
      expect(queue(`${Q}.dlq`)).toMatchObject({ 'x-delivery-limit': UNBOUNDED_DELIVERY_LIMIT });
      expect(queue(`${Q}.retry.1s`)).toMatchObject({
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
        'x-message-ttl': 1000,
      });
      expect(queue(`${Q}.retry.1s`)).not.toHaveProperty('x-delivery-limit');
    },
  );

  it('leaves classic queues alone on 4.x (no delivery limits there)', async () => {
    const { routes, policies } = await loadExamples();
    const classic = routes.map((r) => ({
      ...r,
      spec: { ...r.spec, consumer: { ...r.spec.consumer, queueType: 'classic' as const } },
    }));
    for (const queue of compile(classic, policies, { brokerVersion: '4.3.6' }).queues) {
      expect(queue.arguments).not.toHaveProperty('x-delivery-limit');
      expect(queue.arguments).not.toHaveProperty('x-dead-letter-strategy');
    }
  });

  it('shows the version and what it changed in the plan', async () => {
    const { routes, policies } = await loadExamples();
    const result = plan(compile(routes, policies, { brokerVersion: '4.3.6' }), emptyState());
    expect(result.broker).toEqual(describeProfile(brokerProfile('4.3.6')));
    expect(result.broker![0]).toBe('RabbitMQ 4.3.6');
    expect(result.broker!.join('\n')).toContain(`x-delivery-limit ${UNBOUNDED_DELIVERY_LIMIT}`);
    expect(plan(compile(routes, policies), emptyState()).broker).toBeUndefined();
    expect(
      plan(compile(routes, policies, { brokerVersion: '3.10.8' }), emptyState()).broker,
    ).toEqual(['RabbitMQ 3.10.8']);
  });
});
