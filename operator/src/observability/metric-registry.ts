/**
 * Counters, gauges and histograms in Prometheus' text format (0.0.4), with prom-client's
 * constructor options and method shapes. The operator does not load prom-client itself: with
 * its default metrics it adds about 12 MiB to a process whose target is under 100 MiB at 500
 * routes (most of it @opentelemetry/api, for exemplars the operator does not use). The services
 * keep prom-client.
 */

export type LabelValues = Record<string, string | number>;

export interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
  registers?: Registry[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (text: string) =>
  text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const formatValue = (value: number) =>
  Number.isFinite(value) ? String(value) : value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';

abstract class Metric {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected readonly labelNames: readonly string[];

  constructor(options: MetricOptions) {
    if (!METRIC_NAME.test(options.name)) throw new Error(`invalid metric name ${options.name}`);
    for (const label of options.labelNames ?? [])
      if (!LABEL_NAME.test(label) || label === 'le')
        throw new Error(`invalid label name ${label} on metric ${options.name}`);
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    for (const registry of options.registers ?? []) registry.register(this);
  }

  /** The series key: label values in declared order; refuses labels the metric lacks. */
  protected key(labels: LabelValues = {}): string {
    for (const name of Object.keys(labels))
      if (!this.labelNames.includes(name))
        throw new Error(`metric ${this.name} has no label ${name}`);
    return JSON.stringify(this.labelNames.map((name) => String(labels[name] ?? '')));
  }

  /** `{a="x",b="y"}` for a series key, after `first` (a histogram's le), as prom-client orders them. */
  protected labelText(key: string, first?: string): string {
    const values = JSON.parse(key) as string[];
    const pairs = this.labelNames
      .map((name, i) => [name, values[i]!] as const)
      .filter(([, value]) => value !== '')
      .map(([name, value]) => `${name}="${escapeLabel(value)}"`);
    if (first) pairs.unshift(first);
    return pairs.length ? `{${pairs.join(',')}}` : '';
  }

  /** Called at each scrape before the series are read (process metrics set themselves here). */
  collect?(): void | Promise<void>;

  abstract series(): string[];

  exposition(): string {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`]
      .concat(this.series())
      .join('\n');
  }
}

/** A metric whose series each hold one number: counters and gauges. */
abstract class ValueMetric extends Metric {
  protected readonly values = new Map<string, number>();

  constructor(options: MetricOptions & { collect?: () => void | Promise<void> }) {
    super(options);
    this.collect = options.collect;
    // An unlabelled metric reads 0 before its first change, as prom-client's does.
    if (this.labelNames.length === 0) this.values.set(this.key(), 0);
  }

  protected add(labelsOrValue: LabelValues | number | undefined, value: number | undefined) {
    const [labels, amount] =
      typeof labelsOrValue === 'object' ? [labelsOrValue, value ?? 1] : [{}, labelsOrValue ?? 1];
    const key = this.key(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + amount);
    return amount;
  }

  /** Forgets every series (an unlabelled metric goes back to 0). */
  reset(): void {
    this.values.clear();
    if (this.labelNames.length === 0) this.values.set(this.key(), 0);
  }

  series(): string[] {
    return [...this.values].map(
      ([key, value]) => `${this.name}${this.labelText(key)} ${formatValue(value)}`,
    );
  }
}

export class Counter extends ValueMetric {
  readonly type = 'counter';

  inc(labelsOrValue?: LabelValues | number, value?: number): void {
    const amount = typeof labelsOrValue === 'object' ? (value ?? 1) : (labelsOrValue ?? 1);
    if (!(amount >= 0)) throw new Error(`counter ${this.name} cannot go down (${amount})`);
    this.add(labelsOrValue, value);
  }
}

export class Gauge extends ValueMetric {
  readonly type = 'gauge';

  set(labelsOrValue: LabelValues | number, value?: number): void {
    const [labels, to] =
      typeof labelsOrValue === 'object' ? [labelsOrValue, value!] : [{}, labelsOrValue];
    this.values.set(this.key(labels), to);
  }

  inc(labelsOrValue?: LabelValues | number, value?: number): void {
    this.add(labelsOrValue, value);
  }

  dec(labelsOrValue?: LabelValues | number, value?: number): void {
    if (typeof labelsOrValue === 'object') this.add(labelsOrValue, -(value ?? 1));
    else this.add(undefined, -(labelsOrValue ?? 1));
  }

  /** Drops one series, e.g. a deleted route's. */
  remove(labels: LabelValues): void {
    this.values.delete(this.key(labels));
  }
}

interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric {
  readonly type = 'histogram';
  private readonly buckets: number[];
  private readonly data = new Map<string, HistogramSeries>();

  constructor(options: MetricOptions & { buckets: number[] }) {
    super(options);
    this.buckets = [...options.buckets].sort((a, b) => a - b);
  }

  observe(labelsOrValue: LabelValues | number, value?: number): void {
    const [labels, observed] =
      typeof labelsOrValue === 'object' ? [labelsOrValue, value!] : [{}, labelsOrValue];
    const key = this.key(labels);
    let series = this.data.get(key);
    if (!series) {
      series = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.data.set(key, series);
    }
    const bucket = this.buckets.findIndex((bound) => observed <= bound);
    if (bucket >= 0) series.counts[bucket]! += 1;
    series.sum += observed;
    series.count += 1;
  }

  /** Starts a clock; the returned function observes the seconds since, and returns them. */
  startTimer(labels: LabelValues = {}): () => number {
    const start = process.hrtime.bigint();
    return () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      this.observe(labels, seconds);
      return seconds;
    };
  }

  series(): string[] {
    const lines: string[] = [];
    for (const [key, series] of this.data) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        lines.push(`${this.name}_bucket${this.labelText(key, `le="${bound}"`)} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${this.labelText(key, 'le="+Inf"')} ${series.count}`);
      lines.push(`${this.name}_sum${this.labelText(key)} ${formatValue(series.sum)}`);
      lines.push(`${this.name}_count${this.labelText(key)} ${series.count}`);
    }
    return lines;
  }
}

export class Registry {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  private readonly registered = new Map<string, Metric>();

  register(metric: Metric): void {
    if (this.registered.has(metric.name))
      throw new Error(`a metric named ${metric.name} is already registered`);
    this.registered.set(metric.name, metric);
  }

  /** Name, help and type of every metric, in registration order. */
  getMetricsAsArray(): { name: string; help: string; type: string }[] {
    return [...this.registered.values()].map(({ name, help, type }) => ({ name, help, type }));
  }

  /** The whole scrape: every metric's collect hook runs first. */
  async metrics(): Promise<string> {
    const metrics = [...this.registered.values()];
    await Promise.all(metrics.map((metric) => metric.collect?.()));
    return `${metrics.map((metric) => metric.exposition()).join('\n\n')}\n`;
  }
}
