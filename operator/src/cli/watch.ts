/**
 * `warren status --watch`: a live per-route view. Each refresh reads the routes' queues from the
 * management API (depth, consumers, the broker's own publish and ack rates), then a pure part
 * ranks the routes (worst first) against their `spec.alerts` thresholds and draws a frame. On a
 * terminal the frame replaces the last one and crossed thresholds are coloured (not with
 * NO_COLOR); in a pipe each frame is plain text, no escape codes, one after the other.
 */
import type { RouteAlertInput } from '../alerts/rules';
import { alertInputsOf } from '../alerts/rule-files';
import { ManagementClient } from '../broker/client';
import type { CommandOptions, Output } from './commands';

/** One queue as the management API reports it (only the columns the view needs). */
export interface QueueSample {
  name: string;
  messages?: number;
  consumers?: number;
  message_stats?: { publish_details?: { rate: number }; ack_details?: { rate: number } };
}

export type Severity = 'critical' | 'warning' | 'ok';
export type Cell = 'depth' | 'consumers' | 'retryBacklog' | 'deadLetters';

export interface RouteRow {
  route: string;
  queue: string;
  depth: number | undefined;
  inRate: number | undefined;
  outRate: number | undefined;
  consumers: number | undefined;
  retryBacklog: number | undefined;
  deadLetters: number | undefined;
  /** Which cells crossed a threshold of the route's spec.alerts (or have no consumer). */
  crossed: Set<Cell>;
  severity: Severity;
}

const RANK: Record<Severity, number> = { critical: 0, warning: 1, ok: 2 };

/** The rows of one frame, worst first: critical, then warning, then by depth. */
export function routeRows(
  routes: readonly RouteAlertInput[],
  queues: ReadonlyMap<string, QueueSample>,
): RouteRow[] {
  const key = (vhost: string, name: string) => `${vhost}\u0000${name}`;
  const rows = routes.map((route): RouteRow => {
    const queue = queues.get(key(route.vhost, route.queue));
    const retry = route.retryQueues.map((name) => queues.get(key(route.vhost, name))?.messages);
    const retryBacklog = retry.some((depth) => depth !== undefined)
      ? retry.reduce<number>((sum, depth) => sum + (depth ?? 0), 0)
      : undefined;
    const deadLetters = route.deadLetterQueue
      ? queues.get(key(route.vhost, route.deadLetterQueue))?.messages
      : undefined;
    const depth = queue?.messages;
    const { queueDepth, deadLetterDepth } = route.thresholds;
    const crossed = new Set<Cell>();
    // The same conditions as the route's alerts (rules.ts), without their `for:` durations.
    if (depth !== undefined && depth > queueDepth) crossed.add('depth');
    if (queue?.consumers === 0 && (depth ?? 0) > 0) crossed.add('consumers');
    if (retryBacklog !== undefined && retryBacklog > queueDepth) crossed.add('retryBacklog');
    if (deadLetters !== undefined && deadLetters >= deadLetterDepth) crossed.add('deadLetters');
    return {
      route: `${route.namespace}/${route.route}`,
      queue: route.queue,
      depth,
      inRate: queue?.message_stats?.publish_details?.rate,
      outRate: queue?.message_stats?.ack_details?.rate,
      consumers: queue?.consumers,
      retryBacklog,
      deadLetters,
      crossed,
      severity: crossed.has('consumers') ? 'critical' : crossed.size > 0 ? 'warning' : 'ok',
    };
  });
  return rows.sort(
    (a, b) =>
      RANK[a.severity] - RANK[b.severity] ||
      (b.depth ?? -1) - (a.depth ?? -1) ||
      a.route.localeCompare(b.route),
  );
}

const ESC = '\u001b[';
const COLOURS: Record<Exclude<Severity, 'ok'>, string> = { critical: '31;1', warning: '33' };
export const CLEAR_SCREEN = `${ESC}H${ESC}2J`;

const count = (value: number | undefined) => (value === undefined ? '-' : String(value));
const rate = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(1)}/s`);

export interface FrameOptions {
  colour: boolean;
  at: Date;
  source: string;
}

/** One frame: a title line, then a table; crossed cells coloured when `colour` is on. */
export function renderFrame(rows: readonly RouteRow[], options: FrameOptions): string {
  const header = ['ROUTE', 'QUEUE', 'DEPTH', 'IN', 'OUT', 'CONSUMERS', 'RETRY', 'DLQ', 'STATE'];
  const cells = rows.map((row) => [
    { text: row.route },
    { text: row.queue },
    { text: count(row.depth), hot: row.crossed.has('depth') },
    { text: rate(row.inRate) },
    { text: rate(row.outRate) },
    { text: count(row.consumers), hot: row.crossed.has('consumers') },
    { text: count(row.retryBacklog), hot: row.crossed.has('retryBacklog') },
    { text: count(row.deadLetters), hot: row.crossed.has('deadLetters') },
    { text: row.severity, hot: row.severity !== 'ok' },
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((row) => row[i]!.text.length)),
  );
  const line = (texts: { text: string; hot?: boolean }[], severity: Severity) =>
    texts
      .map((cell, i) => {
        const padded = cell.text.padEnd(widths[i]!);
        return options.colour && cell.hot && severity !== 'ok'
          ? `${ESC}${COLOURS[severity]}m${padded}${ESC}0m`
          : padded;
      })
      .join('  ')
      .trimEnd();
  const worst = rows.filter((row) => row.severity !== 'ok').length;
  return [
    `warren status --watch  ${options.source}  ${options.at.toISOString()}  ${rows.length} routes, ${worst} over a threshold`,
    line(
      header.map((text) => ({ text })),
      'ok',
    ),
    ...cells.map((row, i) => line(row, rows[i]!.severity)),
  ].join('\n');
}

/** NO_COLOR (any non-empty value, https://no-color.org) or no terminal: no colour. */
export const useColour = (isTTY: boolean, env: NodeJS.ProcessEnv): boolean =>
  isTTY && !env.NO_COLOR && env.TERM !== 'dumb';

async function sampleQueues(
  client: ManagementClient,
  vhosts: Iterable<string>,
): Promise<Map<string, QueueSample>> {
  const queues = new Map<string, QueueSample>();
  for (const vhost of vhosts) {
    const list = await client.request<QueueSample[]>(
      'GET',
      `/api/queues/${encodeURIComponent(vhost)}?columns=name,messages,consumers,message_stats.publish_details.rate,message_stats.ack_details.rate`,
    );
    for (const queue of list) queues.set(`${vhost}\u0000${queue.name}`, queue);
  }
  return queues;
}

/** Redraws every `intervalSeconds` until `signal` aborts (Ctrl-C in main). */
export async function watchStatus(options: CommandOptions, io: Output): Promise<number> {
  const settings = await options.broker();
  const routes = alertInputsOf(await options.resources(), options.source, settings.defaultVhost);
  const client = new ManagementClient(settings.managementUrls);
  const vhosts = new Set(routes.map((route) => route.vhost));
  const tty = io.isTTY ?? false;
  const colour = useColour(tty, options.env);
  // Ctrl-C ends the watch cleanly (exit 0) unless the caller gave its own signal.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (!options.signal) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const signal = options.signal ?? stop.signal;
  try {
    await loop();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;

  async function loop() {
    while (!signal.aborted) {
      const rows = routeRows(routes, await sampleQueues(client, vhosts));
      const frame = renderFrame(rows, { colour, at: new Date(), source: options.source });
      io.out(tty ? `${CLEAR_SCREEN}${frame}` : `${frame}\n`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, (options.intervalSeconds ?? 2) * 1000);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
