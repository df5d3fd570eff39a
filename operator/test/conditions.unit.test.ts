import { findCondition, sameConditions, setCondition } from '../src/kube/conditions';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:05:00Z');

describe('conditions', () => {
  it('keeps the transition time while the status holds and moves it when the status flips', () => {
    const ready = setCondition(
      undefined,
      { type: 'Ready', status: 'True', reason: 'Synced', message: 'ok', observedGeneration: 1 },
      t0,
    );
    const same = setCondition(
      ready,
      {
        type: 'Ready',
        status: 'True',
        reason: 'Synced',
        message: 'still ok',
        observedGeneration: 2,
      },
      t1,
    );
    expect(findCondition(same, 'Ready')).toMatchObject({
      lastTransitionTime: t0.toISOString(),
      message: 'still ok',
      observedGeneration: 2,
    });
    const flipped = setCondition(
      same,
      { type: 'Ready', status: 'False', reason: 'BrokerObjectMissing', message: 'queue q is gone' },
      t1,
    );
    expect(findCondition(flipped, 'Ready')).toMatchObject({
      status: 'False',
      lastTransitionTime: t1.toISOString(),
    });
    expect(flipped).toHaveLength(1);
  });

  it('compares lists by meaning, not by order or time', () => {
    const a = setCondition(
      setCondition(undefined, { type: 'Ready', status: 'True', reason: 'Synced', message: '' }, t0),
      { type: 'Degraded', status: 'False', reason: 'Synced', message: '' },
      t0,
    );
    const b = setCondition(
      setCondition(
        undefined,
        { type: 'Degraded', status: 'False', reason: 'Synced', message: '' },
        t1,
      ),
      { type: 'Ready', status: 'True', reason: 'Synced', message: '' },
      t1,
    );
    expect(sameConditions(a, b)).toBe(true);
    expect(
      sameConditions(
        a,
        setCondition(b, { type: 'Ready', status: 'False', reason: 'X', message: '' }, t1),
      ),
    ).toBe(false);
  });

  it('ignores key order, as the API server returns keys sorted', () => {
    const ours = setCondition(
      undefined,
      { type: 'Ready', status: 'True', reason: 'Synced', message: 'ok', observedGeneration: 2 },
      t0,
    );
    const fromServer = ours.map((c) =>
      Object.fromEntries(Object.entries(c).sort(([x], [y]) => x.localeCompare(y))),
    ) as typeof ours;
    expect(JSON.stringify(fromServer)).not.toBe(JSON.stringify(ours));
    expect(sameConditions(ours, fromServer)).toBe(true);
  });
});
