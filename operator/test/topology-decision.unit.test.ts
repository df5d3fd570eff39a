/**
 * The topology reconcile's decisions, without I/O: from routes, the compiled topology and a
 * read-back, what is applied, announced and written, and which finalizers go.
 */
import type { EventRoute } from '@warren/crds';
import { resourceKey } from '@warren/crds';
import { emptyApplyResult } from '../src/broker/apply';
import { FINALIZER } from '../src/controller/annotations';
import { compileResilient } from '../src/controller/resilient-compile';
import {
  decideTopology,
  driftFromEvents,
  liveRoutes,
  vhostsToRead,
  type TopologyDecision,
  type TopologyObservation,
} from '../src/controller/topology-decision';
import { settleTopology } from '../src/controller/topology-settlement';
import type { BrokerState } from '../src/engine/model';
import { serviceUserName } from '../src/engine/naming';
import type { PlanItem } from '../src/engine/plan';
import { asActual, route } from './resources';

const VHOST = '/';
const NOW = new Date('2026-01-01T00:10:00Z');
const TIMEOUT_MS = 300_000;
const QUEUE = 'notification-service.r';

type RouteState = {
  annotations?: Record<string, string>;
  finalizer?: boolean;
  deletedAt?: string;
  status?: EventRoute['status'];
};

/** A route as the cache shows it: with the finalizer unless told otherwise. */
function cached(name: string, state: RouteState = {}, spec: Record<string, unknown> = {}) {
  const base = route(name, spec);
  return {
    ...base,
    metadata: {
      ...base.metadata,
      namespace: 'default',
      uid: `uid-${name}`,
      generation: 1,
      resourceVersion: '1',
      creationTimestamp: `2026-01-01T00:00:0${name.length % 10}Z`,
      ...(state.annotations && { annotations: state.annotations }),
      ...(state.finalizer !== false && { finalizers: [FINALIZER] }),
      ...(state.deletedAt && { deletionTimestamp: state.deletedAt }),
    },
    ...(state.status && { status: state.status }),
  } as EventRoute;
}

/** The broker after an exact apply of these routes (as if they were all live). */
function brokerWith(routes: EventRoute[], edit: (state: BrokerState) => void = () => {}) {
  const live = routes.map((r) => ({ ...r, metadata: { ...r.metadata, annotations: {} } }));
  const state = asActual(
    compileResilient(
      live.map((r) => ({ ...r, metadata: { ...r.metadata, deletionTimestamp: undefined } })),
      [],
      { defaultVhost: VHOST },
    ).desired,
  );
  edit(state);
  return state;
}

const allPasswords = (routes: EventRoute[]) =>
  new Map(
    routes.flatMap((r) =>
      [r.spec.source.service, r.spec.consumer.service].map((s) => [
        serviceUserName(s, VHOST),
        'pw',
      ]),
    ),
  );

function observe(
  routes: EventRoute[],
  broker: TopologyObservation['broker'],
  passwords = allPasswords(routes),
): TopologyObservation {
  return {
    routes,
    policies: [],
    compiled: compileResilient(liveRoutes(routes), [], { defaultVhost: VHOST }),
    broker,
    passwords,
    defaultVhost: VHOST,
    finalizerTimeoutMs: TIMEOUT_MS,
    now: NOW,
  };
}

/** What the applier reports when every item succeeds, except those `failing` says no to. */
function applied(decision: TopologyDecision, failing: (item: PlanItem) => boolean = () => false) {
  const result = emptyApplyResult();
  for (const item of decision.plan.items) {
    if (item.action === 'retain') result.retained.push({ item, reason: item.reason! });
    else if (item.action === 'unchanged' || item.action === 'impossible') continue;
    else if (failing(item)) result.failed.push({ item, error: 'HTTP 500 boom' });
    else result.applied.push(item);
  }
  return result;
}

const ready = (status: EventRoute['status']) => status?.conditions?.find((c) => c.type === 'Ready');
const changes = (decision: TopologyDecision) =>
  decision.plan.items.filter((item) => item.action !== 'unchanged');
const wasReady = (objects: { kind: 'queue' | 'exchange'; name: string }[]) => ({
  observedGeneration: 1,
  conditions: [
    {
      type: 'Ready',
      status: 'True' as const,
      reason: 'Synced',
      message: 'ok',
      lastTransitionTime: '2026-01-01T00:00:00Z',
      observedGeneration: 1,
    },
  ],
  brokerObjects: objects,
});

interface Case {
  name: string;
  routes: EventRoute[];
  broker: (routes: EventRoute[]) => TopologyObservation['broker'];
  passwords?: Map<string, string>;
  failing?: (item: PlanItem) => boolean;
  expect: (outcome: {
    decision: TopologyDecision;
    settlement: ReturnType<typeof settleTopology>;
    status: (name: string) => EventRoute['status'] | undefined;
    event: (name: string) => { reason: string; message: string } | undefined;
    finalizer: (name: string) => { action: string; reason?: string; message?: string } | undefined;
  }) => void;
}

const exact = (routes: EventRoute[]) => ({ actual: brokerWith(routes) });
const without = (name: string) => (routes: EventRoute[]) => ({
  actual: brokerWith(routes, (state) => {
    state.queues = state.queues.filter((q) => q.name !== name);
  }),
});

const cases: Case[] = [
  {
    name: 'a new route: the finalizer first, then everything created and Ready with a Synced Event',
    routes: [cached('r', { finalizer: false })],
    broker: () => ({ actual: brokerWith([]) }),
    passwords: new Map(),
    expect: ({ decision, finalizer, status, event }) => {
      expect(finalizer('r')).toEqual({ action: 'add' });
      expect(changes(decision).map((i) => `${i.action} ${i.kind}`)).toContain('create queue');
      expect(ready(status('r'))).toMatchObject({ status: 'True', reason: 'Synced' });
      expect(event('r')?.reason).toBe('Synced');
    },
  },
  {
    name: "a permission the broker refuses: its service's routes are not Ready and say why",
    routes: [cached('r', { finalizer: true }), cached('s', { finalizer: true })],
    broker: () => ({ actual: brokerWith([]) }),
    passwords: new Map(),
    failing: (item) =>
      item.kind === 'permission' && item.name === serviceUserName('notification-service', VHOST),
    expect: ({ status }) => {
      for (const name of ['r', 's']) {
        expect(ready(status(name))).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
        expect(ready(status(name))?.message).toBe(
          `permission ${serviceUserName('notification-service', VHOST)}: HTTP 500 boom`,
        );
      }
    },
  },
  {
    name: 'idle: nothing to apply, nothing to write',
    routes: [cached('r', { status: undefined })],
    broker: exact,
    expect: ({ decision, settlement }) => {
      expect(changes(decision)).toEqual([]);
      expect(decision.finalizers).toEqual([]);
      expect(settlement.statuses.map((s) => resourceKey(s.route))).toEqual(['default/r']);
    },
  },
  {
    name: 'paused: no writes for its objects, Ready=False naming what differs, no drift repair',
    routes: [
      cached('r', {
        annotations: { 'warren.dev/paused': 'true' },
        status: wasReady([{ kind: 'queue', name: QUEUE }]),
      }),
    ],
    broker: without(QUEUE),
    expect: ({ decision, status }) => {
      expect(changes(decision)).toEqual([]);
      expect(decision.drift).toEqual([]);
      expect(ready(status('r'))).toMatchObject({ status: 'False', reason: 'Paused' });
      expect(ready(status('r'))?.message).toContain(QUEUE);
    },
  },
  {
    name: 'unmanaged: the finalizer goes, nothing is deleted on the broker',
    routes: [cached('r', { annotations: { 'warren.dev/unmanaged': 'true' } })],
    broker: exact,
    expect: ({ decision, finalizer, settlement }) => {
      // Its queues, bindings and event exchange stay; the service users no route needs go.
      const deleted = changes(decision).filter((i) => i.action === 'delete');
      expect(deleted.filter((i) => i.group !== null || i.kind === 'exchange')).toEqual([]);
      expect(finalizer('r')).toMatchObject({ action: 'remove', reason: 'Released' });
      expect(settlement.statuses).toEqual([]);
    },
  },
  {
    name: 'deleting under Retain with messages: the group is kept and the finalizer goes as Retained',
    routes: [cached('r', { deletedAt: '2026-01-01T00:09:00Z' })],
    broker: (routes) => ({
      actual: brokerWith(routes, (state) => {
        for (const queue of state.queues) if (queue.name === QUEUE) queue.messages = 3;
      }),
    }),
    expect: ({ decision, finalizer }) => {
      // Only the binding that brings messages in goes: the queue keeps what it holds.
      const deleted = changes(decision).filter((i) => i.group === QUEUE && i.action === 'delete');
      expect(deleted.map((i) => i.kind)).toEqual(['binding']);
      expect(changes(decision).some((i) => i.action === 'retain' && i.name === QUEUE)).toBe(true);
      const removed = finalizer('r');
      expect(removed).toMatchObject({ action: 'remove', reason: 'Retained' });
      expect(removed?.message).toContain('holds 3 messages');
    },
  },
  {
    name: 'deleting under Delete: its group is deleted and the finalizer goes as Deleted',
    routes: [cached('r', { deletedAt: '2026-01-01T00:09:00Z' }, { deletionPolicy: 'Delete' })],
    broker: exact,
    expect: ({ decision, finalizer }) => {
      const deleted = decision.plan.items.filter((i) => i.action === 'delete');
      expect(deleted.map((i) => `${i.kind} ${i.name}`)).toContain(`queue ${QUEUE}`);
      expect(deleted.find((i) => i.kind === 'queue')?.ifEmpty).toBe(false);
      expect(finalizer('r')).toEqual({
        action: 'remove',
        reason: 'Deleted',
        message: 'deletionPolicy Delete: broker objects removed',
      });
    },
  },
  {
    name: 'conflict: the newer of two routes claiming one queue is Stalled, the older is Ready',
    routes: [
      cached('a', {}, { consumer: { service: 'notification-service', queue: 'shared.q' } }),
      cached('bb', {}, { consumer: { service: 'notification-service', queue: 'shared.q' } }),
    ],
    broker: () => ({ actual: brokerWith([]) }),
    expect: ({ status, event }) => {
      expect(ready(status('a'))).toMatchObject({ status: 'True', reason: 'Synced' });
      expect(ready(status('bb'))).toMatchObject({ status: 'False', reason: 'Conflict' });
      expect(status('bb')?.conditions?.find((c) => c.type === 'Stalled')?.status).toBe('True');
      expect(event('bb')).toMatchObject({ reason: 'Conflict' });
    },
  },
  {
    name: 'drift: a vanished queue is announced before the repair, then Ready again as Repaired',
    routes: [cached('r', { status: wasReady([{ kind: 'queue', name: QUEUE }]) })],
    broker: without(QUEUE),
    expect: ({ decision, status, event }) => {
      expect(decision.drift.map((d) => d.missing.map((i) => i.name))).toEqual([[QUEUE]]);
      expect(decision.drift[0]?.event.reason).toBe('DriftDetected');
      expect(ready(decision.drift[0]?.status)).toMatchObject({
        status: 'False',
        reason: 'BrokerObjectMissing',
      });
      expect(changes(decision).map((i) => `${i.action} ${i.name}`)).toEqual([`create ${QUEUE}`]);
      expect(ready(status('r'))).toMatchObject({ status: 'True', reason: 'Synced' });
      expect(event('r')?.reason).toBe('Repaired');
    },
  },
  {
    name: 'drift: a service user deleted by hand is announced on the routes of that service, then Repaired',
    routes: [
      cached('r', { status: wasReady([{ kind: 'queue', name: QUEUE }]) }),
      cached(
        'other',
        { status: wasReady([]) },
        { source: { service: 'order-service' }, consumer: { service: 'billing-service' } },
      ),
    ],
    broker: (routes) => ({
      actual: brokerWith(routes, (state) => {
        state.users = state.users.filter((u) => u.name !== 'warren-notification-service');
        state.permissions = state.permissions.filter(
          (p) => p.user !== 'warren-notification-service',
        );
      }),
    }),
    expect: ({ decision, status, event }) => {
      expect(
        decision.drift.map((d) => [resourceKey(d.route), d.missing.map((i) => i.kind)]),
      ).toEqual([['default/r', ['user', 'permission']]]);
      expect(decision.drift[0]?.event.message).toContain('user warren-notification-service');
      expect(decision.rotated).toEqual([]);
      expect(ready(status('r'))).toMatchObject({ status: 'True', reason: 'Synced' });
      expect(event('r')?.reason).toBe('Repaired');
    },
  },
  {
    name: 'a new object after a spec change is progress, not drift',
    routes: [cached('r', { status: wasReady([]) })],
    broker: without(QUEUE),
    expect: ({ decision }) => expect(decision.drift).toEqual([]),
  },
  {
    name: 'partial apply failure: only the route whose group failed is ApplyFailed; its deletion waits',
    routes: [
      cached('good'),
      cached('bad'),
      cached('gone', { deletedAt: '2026-01-01T00:09:00Z' }, { deletionPolicy: 'Delete' }),
    ],
    broker: (routes) => ({
      actual: brokerWith(routes, (state) => {
        state.queues = state.queues.filter(
          (q) => !q.name.endsWith('.good') && !q.name.endsWith('.bad'),
        );
      }),
    }),
    failing: (item) =>
      item.group?.endsWith('.bad') === true || item.group?.endsWith('.gone') === true,
    expect: ({ status, finalizer }) => {
      expect(ready(status('good'))).toMatchObject({ status: 'True' });
      expect(ready(status('bad'))).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
      expect(ready(status('bad'))?.message).toContain('HTTP 500 boom');
      expect(finalizer('gone')).toBeUndefined();
    },
  },
  {
    name: 'broker unreachable: Ready Unknown, a deleting route waits for the timeout, a forced one goes',
    routes: [
      cached('r'),
      cached('waits', { deletedAt: '2026-01-01T00:09:00Z' }),
      cached('late', { deletedAt: '2026-01-01T00:00:00Z' }),
      cached('forced', {
        deletedAt: '2026-01-01T00:09:59Z',
        annotations: { 'warren.dev/force-finalize': 'true' },
      }),
    ],
    broker: () => ({ unreachable: 'broker http://rabbit:15672 unreachable: ECONNREFUSED' }),
    expect: ({ decision, settlement, status, finalizer }) => {
      expect(decision.plan.items).toEqual([]);
      expect(ready(status('r'))).toMatchObject({ status: 'Unknown', reason: 'BrokerUnreachable' });
      expect(finalizer('waits')).toBeUndefined();
      expect(settlement.recheckAfterMs).toBe(TIMEOUT_MS - 60_000);
      expect(finalizer('late')).toMatchObject({ reason: 'FinalizerForced' });
      expect(finalizer('late')?.message).toContain('after 300s');
      expect(finalizer('forced')?.message).toContain('on request (warren.dev/force-finalize)');
      expect(settlement.policyStatuses).toEqual([]);
    },
  },
  {
    name: 'a lost credentials Secret: the plan rotates the existing user, nothing else',
    routes: [cached('r')],
    broker: exact,
    passwords: new Map([[serviceUserName('user-service', VHOST), 'pw']]),
    expect: ({ decision }) => {
      const user = serviceUserName('notification-service', VHOST);
      expect(decision.rotated).toEqual([user]);
      expect(changes(decision).map((i) => `${i.action} ${i.kind} ${i.name}`)).toEqual([
        `update user ${user}`,
      ]);
    },
  },
];

describe('decideTopology and settleTopology', () => {
  it.each(cases)('$name', (c) => {
    const observation = observe(c.routes, c.broker(c.routes), c.passwords);
    const decision = decideTopology(observation);
    const settlement = settleTopology(
      observation,
      decision,
      'unreachable' in observation.broker ? undefined : applied(decision, c.failing),
    );
    const byName = <T extends { route: EventRoute }>(list: T[], name: string) =>
      list.find((entry) => entry.route.metadata.name === name);
    c.expect({
      decision,
      settlement,
      status: (name) => byName(settlement.statuses, name)?.status,
      event: (name) => byName(settlement.statuses, name)?.event,
      finalizer: (name) => {
        const found = byName([...decision.finalizers, ...settlement.finalizers], name);
        if (!found) return undefined;
        return found.action === 'add'
          ? { action: 'add' }
          : { action: 'remove', reason: found.event.reason, message: found.event.message };
      },
    });
  });

  it('names a queue found gone while the repair of its binding, seen gone first, is under way', () => {
    // One pass per call, each route as the cache shows it after the pass before.
    const pass = (
      status: EventRoute['status'],
      edit: (state: BrokerState) => void,
      failing?: (item: PlanItem) => boolean,
    ) => {
      const routes = [cached('r', { ...(status && { status }) })];
      const observation = observe(routes, { actual: brokerWith(routes, edit) });
      const decision = decideTopology(observation);
      const result = applied(decision, failing);
      const written = settleTopology(observation, decision, result).statuses[0];
      return { drift: decision.drift, written };
    };
    const synced = pass(undefined, () => {}).written!.status;
    const noBindings = (state: BrokerState) => {
      state.bindings = state.bindings.filter((b) => b.destination !== QUEUE);
    };
    // Read during a deletion: its bindings already gone, the queue not yet.
    // The binding's repair fails (no queue): the repair is still under way, not ApplyFailed.
    const first = pass(synced, noBindings, (item) => item.kind === 'binding');
    expect(first.drift.map((d) => d.missing.map((i) => i.kind))).toEqual([['binding']]);
    const announced = first.written!.status;
    expect(ready(announced)).toMatchObject({ status: 'False', reason: 'BrokerObjectMissing' });
    expect(announced?.conditions?.find((c) => c.type === 'Degraded')?.reason).toBe('ApplyFailed');
    // The next pass finds the queue gone too, names it, and repairs.
    const queueGone = (state: BrokerState) => {
      noBindings(state);
      state.queues = state.queues.filter((q) => q.name !== QUEUE);
    };
    const second = pass(announced, queueGone);
    expect(second.drift.map((d) => d.event.reason)).toEqual(['DriftDetected']);
    expect(second.drift[0]?.event.message).toContain(`queue ${QUEUE}`);
    expect(second.written?.event?.reason).toBe('Repaired');
    // A repair retried for what the status already names is not announced again.
    const retried = pass(second.drift[0]!.status, queueGone, () => true);
    expect(retried.drift).toEqual([]);
    expect(ready(retried.written?.status)?.reason).toBe('BrokerObjectMissing');
  });

  it('reads back the vhosts of live routes and of routes going away', () => {
    const routes = [
      cached('r', {}, { vhost: 'live' }),
      cached('gone', { deletedAt: '2026-01-01T00:09:00Z' }, { vhost: 'old' }),
      cached('let-go', { annotations: { 'warren.dev/unmanaged': 'true' } }, { vhost: 'other' }),
    ];
    const { desired } = compileResilient(liveRoutes(routes), [], { defaultVhost: VHOST });
    expect([...vhostsToRead(routes, desired, VHOST)].sort()).toEqual(['/', 'live', 'old', 'other']);
  });
});

describe('driftFromEvents', () => {
  const gone = new Map([['default/r', [{ kind: 'queue' as const, vhost: VHOST, name: QUEUE }]]]);

  it('announces what an event says is gone on a Ready route, as the read-back would', () => {
    const routes = [cached('r', { status: wasReady([{ kind: 'queue', name: QUEUE }]) })];
    const [repair, ...more] = driftFromEvents(routes, gone, NOW);
    expect(more).toEqual([]);
    expect(repair?.event).toEqual({
      type: 'Warning',
      reason: 'DriftDetected',
      message: `missing on the broker: queue ${QUEUE}; recreating`,
    });
    expect(ready(repair?.status)).toMatchObject({ status: 'False', reason: 'BrokerObjectMissing' });
    // The reconcile after it, reading the queue gone, has nothing new to announce.
    const observation = observe(
      [cached('r', { status: repair!.status })],
      without(QUEUE)([cached('r')]),
    );
    expect(decideTopology(observation).drift).toEqual([]);
  });

  it('says nothing for a paused route, a route that never had the object, or one not named', () => {
    const had = wasReady([{ kind: 'queue', name: QUEUE }]);
    const paused = cached('r', { status: had, annotations: { 'warren.dev/paused': 'true' } });
    expect(driftFromEvents([paused], gone, NOW)).toEqual([]);
    expect(driftFromEvents([cached('r', { status: wasReady([]) })], gone, NOW)).toEqual([]);
    expect(driftFromEvents([cached('s', { status: had })], gone, NOW)).toEqual([]);
  });
});
