import * as prom from 'prom-client';
import { Counter, Gauge, Histogram, Registry } from '../src/observability/metric-registry';
import { registerProcessMetrics } from '../src/observability/process-metrics';
import { createOperatorMetrics } from '../src/observability/metrics';

/** The same calls on our registry and on prom-client's, for their texts to be compared. */
function exercise(lib: {
  Registry: new () => { metrics(): Promise<string> };
  Counter: new (o: object) => { inc(...a: unknown[]): void };
  Gauge: new (o: object) => {
    set(...a: unknown[]): void;
    inc(...a: unknown[]): void;
    dec(...a: unknown[]): void;
  };
  Histogram: new (o: object) => { observe(...a: unknown[]): void };
}) {
  const registry = new lib.Registry();
  const registers = [registry];
  const counter = new lib.Counter({
    name: 'calls_total',
    help: 'Calls \\ by method\nand path',
    labelNames: ['method', 'path'],
    registers,
  });
  counter.inc({ method: 'GET', path: '/a"b\\c\nd' });
  counter.inc({ method: 'PUT' }, 2.5);
  counter.inc({ method: 'GET', path: '/a"b\\c\nd' }, 3);
  const plain = new lib.Counter({ name: 'plain_total', help: 'Plain.', registers });
  plain.inc();
  new lib.Counter({ name: 'untouched_total', help: 'Never set.', labelNames: ['x'], registers });
  new lib.Gauge({ name: 'idle', help: 'Never set, unlabelled.', registers });
  const gauge = new lib.Gauge({ name: 'depth', help: 'Depth.', labelNames: ['queue'], registers });
  gauge.set({ queue: 'a' }, 7);
  gauge.set({ queue: 'b' }, -1.25);
  gauge.inc({ queue: 'a' });
  gauge.dec({ queue: 'b' }, 2);
  gauge.set({ queue: 'c' }, Infinity);
  const histogram = new lib.Histogram({
    name: 'duration_seconds',
    help: 'Duration.',
    labelNames: ['kind'],
    buckets: [0.1, 1, 2.5],
    registers,
  });
  for (const value of [0.05, 0.1, 0.5, 3, 1]) histogram.observe({ kind: 'x' }, value);
  histogram.observe({ kind: 'y' }, 2);
  return registry.metrics();
}

it('writes the text prom-client writes for the same counters, gauges and histograms', async () => {
  const ours = await exercise({ Registry, Counter, Gauge, Histogram } as never);
  const theirs = await exercise(prom as never);
  expect(ours).toBe(theirs);
  expect(ours).toContain('calls_total{method="GET",path="/a\\"b\\\\c\\nd"} 4');
  expect(ours).toContain('duration_seconds_bucket{le="1",kind="x"} 4');
  expect(ours).toContain('depth{queue="c"} +Inf');
});

it('exports the process and runtime metrics of collectDefaultMetrics, under their names and types', async () => {
  const ours = new Registry();
  registerProcessMetrics(ours, 'w_');
  const theirs = new prom.Registry();
  prom.collectDefaultMetrics({ register: theirs, prefix: 'w_' });
  const types = (text: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith('# TYPE'))
      .sort();
  const ourText = await ours.metrics();
  // Per-type handle and request counts are prom-client's alone (from undocumented internals).
  expect(types(ourText)).toEqual(
    types(await theirs.metrics()).filter(
      (line) => !/w_nodejs_active_(handles|requests) gauge/.test(line),
    ),
  );
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(ourText)?.[1]);
  expect(value('w_process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
  expect(value('w_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  expect(value('w_process_start_time_seconds')).toBeLessThanOrEqual(Date.now() / 1000);
  expect(value('w_process_open_fds')).toBeGreaterThan(2);
  expect(value('w_process_cpu_seconds_total')).toBeGreaterThan(0);
  expect(ourText).toMatch(/^w_nodejs_version_info\{version="v\d+\.\d+\.\d+",major="\d+"/m);
  expect(ourText).toMatch(/^w_nodejs_heap_space_size_used_bytes\{space="old"\} \d+$/m);
});

it('refuses what Prometheus would refuse, naming it', () => {
  const registry = new Registry();
  const registers = [registry];
  expect(() => new Counter({ name: 'bad-name', help: 'x', registers })).toThrow(
    'invalid metric name bad-name',
  );
  expect(() => new Gauge({ name: 'g', help: 'x', labelNames: ['le'], registers })).toThrow(
    'invalid label name le on metric g',
  );
  const counter = new Counter({ name: 'c_total', help: 'x', labelNames: ['kind'], registers });
  expect(() => counter.inc({ other: 'y' })).toThrow('metric c_total has no label other');
  expect(() => counter.inc(-1)).toThrow('counter c_total cannot go down (-1)');
  expect(() => new Counter({ name: 'c_total', help: 'x', registers })).toThrow(
    'a metric named c_total is already registered',
  );
});

it('removes a series and times a histogram observation', async () => {
  const registry = new Registry();
  const gauge = new Gauge({ name: 'g', help: 'x', labelNames: ['q'], registers: [registry] });
  gauge.set({ q: 'a' }, 1);
  gauge.set({ q: 'b' }, 2);
  gauge.remove({ q: 'a' });
  const histogram = new Histogram({ name: 'h', help: 'x', buckets: [10], registers: [registry] });
  const seconds = histogram.startTimer()();
  expect(seconds).toBeGreaterThanOrEqual(0);
  const text = await registry.metrics();
  expect(text).not.toContain('g{q="a"}');
  expect(text).toContain('g{q="b"} 2');
  expect(text).toContain('h_count 1');
});

it("lists every operator metric by name, as the dashboards' and alerts' tests read them", () => {
  const names = createOperatorMetrics()
    .registry.getMetricsAsArray()
    .map((metric) => metric.name);
  expect(names).toEqual(
    expect.arrayContaining([
      'warren_reconcile_total',
      'warren_route_queue_messages',
      'warren_operator_process_resident_memory_bytes',
    ]),
  );
});
