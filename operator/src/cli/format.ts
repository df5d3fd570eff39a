/** Human output of the CLI. JSON output (`-o json`) prints the same data structures as they are. */
import type { ApplyResult } from '../broker/apply';
import type { DeadLetterListing } from '../broker/dead-letters';
import type { Plan, PlanItem } from '../engine/plan';
import type { RouteStatus } from '../engine/status';
import type { FileError } from './load';
import type { Paint } from './output';
import { PLAIN } from './output';

const SYMBOL: Record<PlanItem['action'], string> = {
  create: '+',
  update: '~',
  delete: '-',
  impossible: '!',
  retain: '=',
  unchanged: ' ',
};

const show = (value: unknown) => (value === undefined ? '(none)' : JSON.stringify(value));
const where = (item: PlanItem) =>
  item.kind === 'user' || item.kind === 'vhost' ? '' : ` (vhost ${item.vhost})`;

const COLOUR: Record<PlanItem['action'], keyof Paint | undefined> = {
  create: 'added',
  update: 'changed',
  delete: 'removed',
  impossible: 'removed',
  retain: undefined,
  unchanged: undefined,
};

export function formatItem(item: PlanItem, paint: Paint = PLAIN): string {
  const colour = COLOUR[item.action];
  const symbol = colour ? paint[colour](SYMBOL[item.action]) : SYMBOL[item.action];
  const lines = [
    `  ${symbol} ${item.kind} ${item.name}${where(item)}${item.action === 'delete' && item.ifEmpty ? ' if empty' : ''}`,
  ];
  for (const change of item.changes)
    lines.push(`      ${change.field}: ${show(change.from)} -> ${show(change.to)}`);
  if (item.reason && item.action !== 'delete') lines.push(`      ${item.reason}`);
  return lines.join('\n');
}

export function formatPlan(plan: Plan, paint: Paint = PLAIN): string {
  const { counts } = plan;
  const shown = plan.items.filter((item) => item.action !== 'unchanged');
  const summary =
    `Plan: ${counts.create} to create, ${counts.update} to update, ${counts.delete} to delete, ` +
    `${counts.impossible} not possible in place, ${counts.retain} retained, ${counts.unchanged} unchanged.`;
  if (!plan.hasChanges && counts.retain === 0)
    return `No changes: the broker matches the resources (${counts.unchanged} objects).`;
  return [...shown.map((item) => formatItem(item, paint)), '', paint.bold(summary)].join('\n');
}

export function formatApply(
  result: ApplyResult,
  calls: number,
  secrets: { credentialsFile?: string; showSecrets: boolean } = { showSecrets: false },
): string {
  const lines: string[] = [];
  for (const item of result.applied) lines.push(formatItem(item));
  for (const { item, reason } of result.skipped)
    lines.push(`  skipped ${item.kind} ${item.name}: ${reason}`);
  for (const { item, reason } of result.retained)
    lines.push(`  = ${item.kind} ${item.name}: ${reason}`);
  for (const { item, error } of result.failed)
    lines.push(`  FAILED ${item.kind} ${item.name}: ${error}`);
  const generated = result.credentials.filter((c) => c.generated);
  if (generated.length > 0 && secrets.credentialsFile) {
    lines.push(
      `  generated passwords of ${generated.map((c) => c.user).join(', ')} written to ${secrets.credentialsFile} (mode 0600)`,
    );
  }
  if (secrets.showSecrets)
    for (const c of generated) lines.push(`  password of ${c.user}: ${c.password}`);
  lines.push(
    '',
    `Applied ${result.applied.length}, skipped ${result.skipped.length}, retained ${result.retained.length}, failed ${result.failed.length} (${calls} HTTP calls).`,
  );
  return lines.join('\n');
}

/** Columns padded to their widest cell, two spaces apart. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function formatStatus(statuses: RouteStatus[], paint: Paint = PLAIN): string {
  const header = ['ROUTE', 'VHOST', 'QUEUE', 'STATUS', 'DEPTH', 'CONSUMERS', 'RETRY', 'DLQ'];
  const rows = statuses.map((s) => [
    s.route,
    s.vhost,
    s.queue,
    s.readiness,
    String(s.depth ?? '-'),
    String(s.consumers ?? '-'),
    String(s.retryDepth ?? '-'),
    String(s.deadLetterDepth ?? '-'),
  ]);
  const details = statuses.flatMap((s) =>
    s.pending.map((item) => `${s.route}:\n${formatItem(item, paint)}`),
  );
  return [...table(header, rows), ...(details.length ? ['', ...details] : [])].join('\n');
}

export function formatDeadLetters(queue: string, listing: DeadLetterListing): string {
  const { depth, messages } = listing;
  const title = `${queue}: ${depth} dead letter${depth === 1 ? '' : 's'}${messages.length < depth ? `, the first ${messages.length} shown` : ''}`;
  if (messages.length === 0) return title;
  const rows = messages.map((m, i) => [
    String(i + 1),
    m.eventType ?? '-',
    m.messageId ?? '-',
    m.reason,
    String(m.attempts ?? '-'),
    m.errorKind ?? '-',
    m.lastFailureAt ?? '-',
    String(m.redrives),
  ]);
  const errors = messages.map((m, i) => `  ${i + 1}. ${m.error ?? '(no error recorded)'}`);
  const header = [
    '#',
    'EVENT',
    'MESSAGE ID',
    'REASON',
    'ATTEMPTS',
    'ERROR KIND',
    'LAST FAILURE',
    'REDRIVES',
  ];
  return [title, '', ...table(header, rows), '', 'Errors:', ...errors].join('\n');
}

export function formatErrors(errors: FileError[]): string {
  return errors
    .map((e) => `${e.file}: ${e.resource}: ${e.field ? `${e.field}: ` : ''}${e.message}`)
    .join('\n');
}
