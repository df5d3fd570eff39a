/** The KEDA objects of autoscaled routes (pure) and the scaler's broker user (compiled). */
import type { EventRoute } from '@warren/crds';
import {
  AUTOSCALING_REASONS,
  autoscalingCondition,
  kedaObjectsFor,
  scalerAuthName,
  scalerSecret,
} from '../src/autoscaling/keda';
import { compile } from '../src/engine/compile';
import { route } from './resources';

const autoscaled = (
  name: string,
  autoscaling: Record<string, unknown> | undefined,
  consumer: Record<string, unknown> = {},
): EventRoute => {
  const r = route(name, {
    consumer: { service: 'notification-service', ...consumer, ...(autoscaling && { autoscaling }) },
  });
  r.metadata.uid = `uid-${name}`;
  return r;
};
const withQueue = (r: EventRoute, vhost = '/') => ({
  route: r,
  vhost,
  queue: `notification-service.${r.metadata.name}`,
});

describe('kedaObjectsFor', () => {
  it('writes a ScaledObject on the consumer Deployment with a QueueLength trigger on the queue', () => {
    const r = autoscaled('a', { maxReplicas: 5, targetQueueLength: 100 });
    const out = kedaObjectsFor([withQueue(r)]);
    expect(out.conflicts.size).toBe(0);
    expect(out.scaledObjects).toEqual([
      {
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'ScaledObject',
        metadata: expect.objectContaining({
          name: 'warren-notification-service',
          namespace: 'default',
          labels: {
            'app.kubernetes.io/managed-by': 'warren',
            'warren.dev/component': 'keda-autoscaling',
            'warren.dev/service': 'notification-service',
          },
          ownerReferences: [
            {
              apiVersion: 'warren.dev/v1alpha1',
              kind: 'EventRoute',
              name: 'a',
              uid: 'uid-a',
              controller: false,
              blockOwnerDeletion: false,
            },
          ],
        }),
        spec: {
          scaleTargetRef: {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: 'notification-service',
          },
          minReplicaCount: 1,
          maxReplicaCount: 5,
          triggers: [
            {
              type: 'rabbitmq',
              name: 'notification-service-a',
              metadata: {
                protocol: 'http',
                mode: 'QueueLength',
                queueName: 'notification-service.a',
                vhostName: '/',
                value: '100',
              },
              authenticationRef: { name: scalerAuthName('/') },
            },
          ],
        },
      },
    ]);
    expect(out.triggerAuthentications).toEqual([
      expect.objectContaining({
        kind: 'TriggerAuthentication',
        metadata: expect.objectContaining({ name: scalerAuthName('/'), namespace: 'default' }),
        spec: { secretTargetRef: [{ parameter: 'host', name: scalerAuthName('/'), key: 'host' }] },
      }),
    ]);
    expect(out.secrets).toEqual([
      expect.objectContaining({
        name: scalerAuthName('/'),
        vhost: '/',
        user: 'warren-keda.scaler',
      }),
    ]);
    expect(out.scaledObjectOf).toEqual(new Map([['default/a', 'warren-notification-service']]));
  });

  it('combines two routes into one service into one ScaledObject, one trigger per queue', () => {
    const out = kedaObjectsFor([
      withQueue(
        autoscaled('b', { maxReplicas: 4, targetQueueLength: 10, activationQueueLength: 3 }),
      ),
      withQueue(autoscaled('a', { maxReplicas: 4, targetQueueLength: 50 }), 'other'),
      withQueue(autoscaled('plain', undefined)),
    ]);
    expect(out.scaledObjects).toHaveLength(1);
    const [scaledObject] = out.scaledObjects;
    expect(scaledObject!.spec.triggers.map((t) => [t.metadata, t.authenticationRef.name])).toEqual([
      [
        expect.objectContaining({
          queueName: 'notification-service.a',
          vhostName: 'other',
          value: '50',
        }),
        scalerAuthName('other'),
      ],
      [
        expect.objectContaining({
          queueName: 'notification-service.b',
          value: '10',
          activationValue: '3',
        }),
        scalerAuthName('/'),
      ],
    ]);
    expect(scaledObject!.metadata.ownerReferences.map((o) => o.name)).toEqual(['a', 'b']);
    expect(
      out.triggerAuthentications.map((t) => t.metadata.annotations!['warren.dev/vhost']).sort(),
    ).toEqual(['/', 'other']);
    expect([...out.scaledObjectOf.keys()].sort()).toEqual(['default/a', 'default/b']);
  });

  it('scales the named workload, with the polling and cooldown the route asks for', () => {
    const out = kedaObjectsFor([
      withQueue(
        autoscaled('a', {
          minReplicas: 0,
          maxReplicas: 3,
          targetQueueLength: 5,
          target: { kind: 'StatefulSet', name: 'notifier' },
          pollingIntervalSeconds: 5,
          cooldownPeriodSeconds: 60,
        }),
      ),
    ]);
    expect(out.scaledObjects[0]!.spec).toMatchObject({
      scaleTargetRef: { kind: 'StatefulSet', name: 'notifier' },
      minReplicaCount: 0,
      maxReplicaCount: 3,
      pollingInterval: 5,
      cooldownPeriod: 60,
    });
  });

  it("leaves polling and cooldown out when the route does not set them (KEDA's defaults)", () => {
    const out = kedaObjectsFor([
      withQueue(autoscaled('a', { maxReplicas: 3, targetQueueLength: 5 })),
    ]);
    expect(Object.keys(out.scaledObjects[0]!.spec)).not.toContain('pollingInterval');
    expect(Object.keys(out.scaledObjects[0]!.spec)).not.toContain('cooldownPeriod');
  });

  it('refuses routes of one service that disagree on the timings', () => {
    const out = kedaObjectsFor([
      withQueue(
        autoscaled('a', { maxReplicas: 4, targetQueueLength: 10, cooldownPeriodSeconds: 30 }),
      ),
      withQueue(autoscaled('b', { maxReplicas: 4, targetQueueLength: 10 })),
    ]);
    expect(out.scaledObjects).toEqual([]);
    expect(out.conflicts.get('default/a')).toContain(
      'a (Deployment notification-service 1..4, cooldown 30 s), b (Deployment notification-service 1..4)',
    );
  });

  it('refuses routes of one service that disagree on the bounds, naming both', () => {
    const out = kedaObjectsFor([
      withQueue(autoscaled('a', { maxReplicas: 4, targetQueueLength: 10 })),
      withQueue(autoscaled('b', { maxReplicas: 8, targetQueueLength: 10 })),
    ]);
    expect(out.scaledObjects).toEqual([]);
    expect(out.held).toEqual(['default/warren-notification-service']);
    expect(out.triggerAuthentications).toHaveLength(1);
    expect(out.conflicts.get('default/a')).toBe(
      'routes of notification-service in default disagree on the workload to scale: a (Deployment notification-service 1..4), b (Deployment notification-service 1..8); give them the same minReplicas, maxReplicas, target, pollingIntervalSeconds and cooldownPeriodSeconds',
    );
    expect(out.conflicts.get('default/b')).toBe(out.conflicts.get('default/a'));
  });
});

it('puts the scaler user, never the operator admin, into the scaler Secret', () => {
  const [spec] = kedaObjectsFor([
    withQueue(autoscaled('a', { maxReplicas: 2, targetQueueLength: 1 }), 'shop/prod'),
  ]).secrets;
  const secret = scalerSecret(
    spec!,
    { user: spec!.user, password: 'p@ss/word' },
    'http://admin:admin-secret@rabbitmq:15672/',
    {},
  );
  expect(secret.stringData.host).toBe(
    'http://warren-keda.scaler%40shop%2Fprod:p%40ss%2Fword@rabbitmq:15672/shop%2Fprod',
  );
  expect(JSON.stringify(secret)).not.toContain('admin-secret');
});

it('compiles one scaler user per vhost with an autoscaled queue: tag monitoring, no permission', () => {
  const desired = compile(
    [autoscaled('a', { maxReplicas: 2, targetQueueLength: 1 }), autoscaled('b', undefined, {})],
    [],
  );
  expect(desired.users.filter((u) => u.service === 'keda.scaler')).toEqual([
    {
      kind: 'user',
      vhost: '/',
      name: 'warren-keda.scaler',
      service: 'keda.scaler',
      tags: ['warren-managed', 'monitoring'],
    },
  ]);
  expect(desired.permissions.find((p) => p.user === 'warren-keda.scaler')).toEqual({
    kind: 'permission',
    vhost: '/',
    user: 'warren-keda.scaler',
    configure: '^$',
    write: '^$',
    read: '^$',
  });
  expect(compile([autoscaled('b', undefined)], []).users.map((u) => u.name)).not.toContain(
    'warren-keda.scaler',
  );
});

describe('autoscalingCondition', () => {
  it.each([
    [{ kind: 'kedaMissing' } as const, 'False', AUTOSCALING_REASONS.kedaMissing],
    [{ kind: 'conflict', message: 'x' } as const, 'False', AUTOSCALING_REASONS.conflict],
    [
      { kind: 'refused', scaledObject: 's', message: 'denied' } as const,
      'False',
      AUTOSCALING_REASONS.refused,
    ],
    [
      { kind: 'written', scaledObject: 's', conditions: undefined } as const,
      'Unknown',
      AUTOSCALING_REASONS.waiting,
    ],
    [
      {
        kind: 'written',
        scaledObject: 's',
        conditions: [
          { type: 'Ready', status: 'True', message: 'ScaledObject is defined correctly' },
          { type: 'Active', status: 'False' },
        ],
      } as const,
      'True',
      AUTOSCALING_REASONS.ready,
    ],
    [
      {
        kind: 'written',
        scaledObject: 's',
        conditions: [
          { type: 'Ready', status: 'False', reason: 'ScaledObjectCheckFailed', message: 'no' },
        ],
      } as const,
      'False',
      AUTOSCALING_REASONS.notReady,
    ],
  ])('%j -> %s %s', (outcome, status, reason) => {
    expect(autoscalingCondition(outcome)).toMatchObject({ type: 'Autoscaling', status, reason });
  });
});
