import { TerminalError, WorkQueue } from '../src/kube/work-queue';

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WorkQueue', () => {
  it('never processes one key on two workers at once, and re-runs a key changed meanwhile', async () => {
    const active = new Set<string>();
    const runs: string[] = [];
    let overlap = false;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = new WorkQueue(
      async (key) => {
        if (active.has(key)) overlap = true;
        active.add(key);
        runs.push(key);
        if (runs.length === 1) await gate;
        active.delete(key);
      },
      () => {},
      4,
    );

    queue.add('a');
    await tick();
    queue.add('a'); // while processing: dirty, runs once more after
    queue.add('a'); // coalesced with the previous add
    queue.add('b');
    await tick();
    expect(runs).toEqual(['a', 'b']);
    release();
    await queue.whenIdle();
    await tick();
    await queue.whenIdle();
    expect(runs).toEqual(['a', 'b', 'a']);
    expect(overlap).toBe(false);
  });

  it('retries a failing key with exponential backoff and resets it after success', async () => {
    const attempts: number[] = [];
    const errors: (number | undefined)[] = [];
    const started = Date.now();
    const queue = new WorkQueue(
      async () => {
        attempts.push(Date.now() - started);
        if (attempts.length < 4) throw new Error('broker down');
      },
      (_key, _error, retryInMs) => errors.push(retryInMs),
      1,
      { baseDelayMs: 20, maxDelayMs: 50 },
    );
    queue.add('route');
    while (attempts.length < 4) await tick(10);
    await queue.whenIdle();
    expect(errors).toEqual([20, 40, 50]);
    expect(attempts[1] - attempts[0]).toBeGreaterThanOrEqual(19);
    expect(attempts[3] - attempts[2]).toBeGreaterThanOrEqual(49);
    expect(queue.failureCount('route')).toBe(0);
  });

  it('honours requeueAfter and lets an explicit add run sooner', async () => {
    const runs: number[] = [];
    const started = Date.now();
    const queue = new WorkQueue(
      async () => {
        runs.push(Date.now() - started);
        return runs.length === 1 ? { requeueAfterMs: 10_000 } : undefined;
      },
      () => {},
    );
    queue.add('k');
    await tick(5);
    queue.add('k'); // an event arrives: no need to wait for the periodic requeue
    await tick(5);
    await queue.whenIdle();
    expect(runs).toHaveLength(2);
    expect(runs[1]).toBeLessThan(1000);
    await queue.shutDown();
  });

  it('finishes in-flight work on shutdown and then takes no more', async () => {
    let finished = 0;
    const queue = new WorkQueue(
      async () => {
        await tick(20);
        finished++;
      },
      () => {},
    );
    queue.add('x');
    await tick();
    await queue.shutDown();
    expect(finished).toBe(1);
    queue.add('y');
    await tick(30);
    expect(finished).toBe(1);
  });

  it('does not retry a TerminalError, but honours its requeue', async () => {
    const runs: string[] = [];
    const errors: (number | undefined)[] = [];
    const queue = new WorkQueue(
      async (key) => {
        runs.push(key);
        if (key === 'fatal') throw new TerminalError('cannot be fixed by retrying');
        if (key === 'later' && runs.filter((k) => k === 'later').length === 1)
          throw new TerminalError('come back at the resync', 20);
      },
      (_key, _error, retryInMs) => errors.push(retryInMs),
      2,
      { baseDelayMs: 5, maxDelayMs: 5 },
    );
    queue.add('fatal');
    queue.add('later');
    await tick(80);
    await queue.whenIdle();
    expect(runs.filter((k) => k === 'fatal')).toHaveLength(1);
    expect(runs.filter((k) => k === 'later')).toHaveLength(2);
    expect(errors).toEqual([undefined, undefined]);
    expect(queue.failureCount('fatal')).toBe(0);
    await queue.shutDown();
  });
});
