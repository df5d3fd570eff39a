/** Small numeric helpers for the messaging benchmark. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface RunResult {
  name: string;
  messages: number;
  seconds: number;
  /** Latencies in ms (per message or per batch, as the scenario says). */
  latencies: number[];
}

export function summarize(result: RunResult) {
  const sorted = [...result.latencies].sort((a, b) => a - b);
  return {
    name: result.name,
    messages: result.messages,
    perSecond: result.messages / result.seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

export type Summary = ReturnType<typeof summarize>;

/** A figure over several runs of one side: the median is reported, min-max is the spread. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** One side of a comparison (or a lone scenario) over its runs. */
export interface Side {
  name: string;
  runs: number;
  messages: number;
  perSecond: Spread;
  p50: Spread;
  p99: Spread;
}

export function side(name: string, runs: RunResult[]): Side {
  const summaries = runs.map(summarize);
  return {
    name: runs.length > 1 ? `${name} (${runs.length} runs)` : name,
    runs: runs.length,
    messages: summaries.reduce((sum, s) => sum + s.messages, 0),
    perSecond: spread(summaries.map((s) => s.perSecond)),
    p50: spread(summaries.map((s) => s.p50)),
    p99: spread(summaries.map((s) => s.p99)),
  };
}

const fixed = (value: number, digits = 1) => (Number.isNaN(value) ? '-' : value.toFixed(digits));
const ranged = (s: Spread, digits: number) =>
  s.min === s.max
    ? fixed(s.median, digits)
    : `${fixed(s.median, digits)} (${fixed(s.min, digits)}-${fixed(s.max, digits)})`;

function aligned(header: string[], lines: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(format)].join(
    '\n',
  );
}

/** Every scenario: medians over its runs, with min-max in parentheses. */
export function table(rows: Side[]): string {
  return aligned(
    ['scenario', 'messages', 'msg/s', 'p50 ms', 'p99 ms'],
    rows.map((r) => [
      r.name,
      String(r.messages),
      ranged(r.perSecond, 0),
      ranged(r.p50, 1),
      ranged(r.p99, 1),
    ]),
  );
}

export interface Verdict {
  measure: string;
  module: number;
  raw: number;
  unit: string;
  /** 'throughput': module / raw must reach `goal`; 'latency': module / raw must stay within it. */
  kind: 'throughput' | 'latency';
  goal: number;
}

/** Per measure: module, raw, their ratio and PASS / MISS against the goal. */
export function verdicts(rows: Verdict[]): string {
  return aligned(
    ['measure', 'module', 'raw', 'ratio', 'goal', 'result'],
    rows.map((v) => {
      const ratio = v.module / v.raw;
      const pass = v.kind === 'throughput' ? ratio >= v.goal : ratio <= v.goal;
      return [
        v.measure,
        `${fixed(v.module, v.kind === 'throughput' ? 0 : 1)} ${v.unit}`,
        `${fixed(v.raw, v.kind === 'throughput' ? 0 : 1)} ${v.unit}`,
        v.kind === 'throughput' ? ratio.toFixed(2) : `${ratio.toFixed(2)}x`,
        v.kind === 'throughput' ? `>= ${v.goal.toFixed(2)}` : `<= ${v.goal}x`,
        pass ? 'PASS' : 'MISS',
      ];
    }),
  );
}
