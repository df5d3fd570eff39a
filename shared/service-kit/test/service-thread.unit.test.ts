import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { runsBackgroundWork, serviceThreadFrom } from '../src/messaging-thread';
import { ServiceMetrics } from '../src/metrics';

describe('serviceThreadFrom', () => {
  it.each([
    [undefined, { role: 'all' }],
    ['', { role: 'all' }],
    ['false', { role: 'all' }],
    ['true', { role: 'http', workerEntry: '/app/dist/main.js' }],
  ])('MESSAGING_WORKER=%s on the main thread: %j', (setting, thread) => {
    expect(serviceThreadFrom({ MESSAGING_WORKER: setting }, '/app/dist/main.js')).toEqual(thread);
  });

  it('refuses a value that is not true or false, naming it', () => {
    expect(() => serviceThreadFrom({ MESSAGING_WORKER: 'yes' }, '/main.js')).toThrow(
      'MESSAGING_WORKER must be true or false, not "yes"',
    );
  });

  it('background work runs where the consumers run, never on the HTTP-only thread', () => {
    expect(runsBackgroundWork({ role: 'all' })).toBe(true);
    expect(runsBackgroundWork({ role: 'messaging' })).toBe(true);
    expect(runsBackgroundWork({ role: 'http', workerEntry: '/main.js' })).toBe(false);
  });
});

describe('ServiceMetrics.scrape with the worker as a source', () => {
  /** A registry standing in for the worker's: messaging counters and its own pool. */
  function workerRegistry(): Registry {
    const registry = new Registry();
    new Counter({
      name: 'warren_messaging_consumed_total',
      help: 'consumed',
      labelNames: ['queue'],
      registers: [registry],
    }).inc({ queue: 'q' }, 3);
    new Gauge({
      name: 'database_pool_connections',
      help: 'pool',
      labelNames: ['state'],
      registers: [registry],
    }).set({ state: 'max' }, 5);
    // An HTTP counter that exists in both registries, with no samples in the worker.
    new Counter({ name: 'http_requests_total', help: 'HTTP', registers: [registry] });
    return registry;
  }

  it('is one exposition: each metric once, shared series summed, process metrics kept', async () => {
    const metrics = new ServiceMetrics();
    metrics.watchPool({ totalCount: 2, idleCount: 1, waitingCount: 0 } as never, 10);
    const worker = workerRegistry();
    metrics.addSource(() => worker.getMetricsAsJSON());
    const text = await metrics.scrape();
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(types.length).toBe(new Set(types).size);
    expect(text).toContain('warren_messaging_consumed_total{queue="q"} 3');
    expect(text).toContain('database_pool_connections{state="max"} 15');
    // prom-client's cluster aggregation would drop this one ('omit'); one process has one.
    expect(text).toMatch(/^process_start_time_seconds \d+/m);
  });

  it('without a source is the registry as it is', async () => {
    const metrics = new ServiceMetrics();
    // Series by series (their values move between two reads: heap, CPU).
    const series = (text: string) => text.split('\n').map((line) => line.replace(/ [^ ]+$/, ''));
    expect(series(await metrics.scrape())).toEqual(series(await metrics.registry.metrics()));
  });

  it('a source that fails fails the scrape (no partial exposition)', async () => {
    const metrics = new ServiceMetrics();
    metrics.addSource(() => Promise.reject(new Error('the worker is gone')));
    await expect(metrics.scrape()).rejects.toThrow('the worker is gone');
  });

  it('the default metrics render the same through the merge as without it', async () => {
    const plain = new Registry();
    collectDefaultMetrics({ register: plain });
    const metrics = new ServiceMetrics();
    metrics.addSource(() => Promise.resolve([]));
    const names = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('# TYPE '))
        .sort();
    expect(names(await metrics.scrape())).toEqual(
      names(await plain.metrics())
        .concat(
          names(await new ServiceMetrics().registry.metrics()).filter(
            (l) => !/^# TYPE (process_|nodejs_)/.test(l),
          ),
        )
        .sort(),
    );
  });
});
