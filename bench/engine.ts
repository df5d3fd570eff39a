/**
 * Engine benchmark: compile + plan 1,000 routes (pure), apply them to an empty vhost, re-plan
 * them unchanged. Prints a table of times and management API calls.
 *   eval "$(npm run -s infra -- env)"
 *   node --conditions=warren-source --import tsx bench/engine.ts [--routes 1000] [--queue-type quorum|classic]
 */
import { parseArgs } from 'node:util';
import type { EventRoute, RetryPolicy } from '@warren/crds';
import { validateResource } from '@warren/crds';
import { createTestVhost } from '@warren/testing';
import { applyPlan } from '../operator/src/broker/apply';
import { ManagementClient } from '../operator/src/broker/client';
import { amqpQueueProbe } from '../operator/src/broker/queue-probe';
import { readActualState } from '../operator/src/broker/read';
import { compile } from '../operator/src/engine/compile';
import { emptyState } from '../operator/src/engine/model';
import { plan } from '../operator/src/engine/plan';

const { values } = parseArgs({
  options: {
    routes: { type: 'string', default: '1000' },
    'queue-type': { type: 'string', default: 'quorum' },
  },
});
const ROUTES = Number(values.routes);
const SERVICES = 20;

function valid<T>(document: unknown): T {
  const result = validateResource(document);
  if (result.outcome !== 'valid') throw new Error(JSON.stringify(result));
  return result.resource as T;
}

const policy = valid<RetryPolicy>({
  apiVersion: 'warren.dev/v1alpha1',
  kind: 'RetryPolicy',
  metadata: { name: 'three-strikes' },
  spec: {},
});
const routes = Array.from({ length: ROUTES }, (_, i) =>
  valid<EventRoute>({
    apiVersion: 'warren.dev/v1alpha1',
    kind: 'EventRoute',
    metadata: { name: `route-${i}` },
    spec: {
      exchange: { name: `svc-${i % SERVICES}.events` },
      source: { service: `svc-${i % SERVICES}` },
      events: [`entity${i}.created`, `entity${i}.updated`],
      consumer: { service: `svc-${(i + 1) % SERVICES}`, queueType: values['queue-type'] },
      retryPolicyRef: { name: 'three-strikes' },
    },
  }),
);

const rows: [string, string, string, string][] = [];
async function measure<T>(
  label: string,
  client: ManagementClient | undefined,
  fn: () => Promise<T> | T,
  note: (result: T) => string,
): Promise<T> {
  const calls = client?.calls ?? 0;
  const start = performance.now();
  const result = await fn();
  const ms = performance.now() - start;
  rows.push([
    label,
    `${ms.toFixed(0)} ms`,
    client ? String(client.calls - calls) : '-',
    note(result),
  ]);
  return result;
}

async function main(): Promise<void> {
  await measure(
    'compile + plan (pure)',
    undefined,
    () => plan(compile(routes, [policy]), emptyState()),
    (p) => `${p.items.length} objects`,
  );
  const vhost = await createTestVhost('bench_engine');
  try {
    const client = new ManagementClient(vhost.managementUrl);
    const defaultVhost = vhost.vhost;
    const topology = compile(routes, [policy], { defaultVhost });
    const probe = amqpQueueProbe(vhost.amqpUrl);
    await measure(
      'apply to an empty vhost (read + plan + apply)',
      client,
      async () => {
        const current = plan(topology, await readActualState(client, [defaultVhost]));
        return applyPlan(client, current, { probeQueue: probe.probe });
      },
      (r) => `${r.applied.length} applied, ${r.failed.length} failed`,
    );
    await probe.close();
    await measure(
      're-plan unchanged (read + plan)',
      client,
      async () => plan(topology, await readActualState(client, [defaultVhost])),
      (p) => `${p.counts.unchanged} unchanged, changes: ${p.hasChanges}`,
    );
  } finally {
    await vhost.dispose();
  }
  console.log(
    `\nWarren engine, ${ROUTES} routes (${values['queue-type']} queues, ${SERVICES} services, 3-attempt retry policy)\n`,
  );
  const header: [string, string, string, string] = ['step', 'time', 'HTTP calls', 'result'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows])
    console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
