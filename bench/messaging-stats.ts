/** Small numeric helpers for the messaging benchmark. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
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

export function table(rows: Summary[]): string {
  const header = ['scenario', 'messages', 'msg/s', 'p50 ms', 'p99 ms'];
  const ms = (value: number) => (Number.isNaN(value) ? '-' : value.toFixed(1));
  const lines = rows.map((r) => [
    r.name,
    String(r.messages),
    r.perSecond.toFixed(0),
    ms(r.p50),
    ms(r.p99),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(format)].join(
    '\n',
  );
}
