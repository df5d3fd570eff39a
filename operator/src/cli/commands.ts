/** The `warren` commands. Each returns its exit code; output goes through `out`/`err`. */
import { applyPlan } from '../broker/apply';
import { ManagementClient } from '../broker/client';
import { listDeadLetters, redriveDeadLetters } from '../broker/dead-letters';
import { amqpQueueProbe } from '../broker/queue-probe';
import { readActualState } from '../broker/read';
import type { UserObject } from '../engine/model';
import { CompileError, compile } from '../engine/compile';
import { parseReasons } from '../engine/dead-letters';
import type { DesiredTopology, RouteObjects } from '../engine/model';
import { plan } from '../engine/plan';
import { routeStatuses } from '../engine/status';
import type { BrokerSettings } from './connection';
import { UsageError } from './connection';
import { formatApply, formatDeadLetters, formatErrors, formatPlan, formatStatus } from './format';
import type { LoadedResources } from './load';
import { watchStatus } from './watch';
import { loadResources, retryPoliciesOf, routesOf } from './load';

export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal (status --watch redraws in place and colours). */
  isTTY?: boolean;
}

export interface CommandOptions {
  file: string;
  json: boolean;
  detailedExitcode: boolean;
  service?: string;
  vhost?: string;
  /** dead-letters, redrive: the EventRoute, as `name` or `namespace/name`. */
  route?: string;
  /** dead-letters: how many to show; redrive: how many to send back at most. */
  limit?: number;
  /** redrive: only these dead-letter reasons (comma-separated). */
  reason?: string;
  env: NodeJS.ProcessEnv;
  broker: () => BrokerSettings;
  /** The vhost of routes without spec.vhost, without needing a broker. */
  defaultVhost: () => string;
  /** status: redraw every intervalSeconds until signal aborts (watch.ts). */
  watch?: boolean;
  intervalSeconds?: number;
  signal?: AbortSignal;
}

export const EXIT = { ok: 0, error: 1, changes: 2 } as const;

async function loadValid(
  options: CommandOptions,
  io: Output,
): Promise<LoadedResources | undefined> {
  const loaded = await loadResources(options.file);
  if (loaded.errors.length === 0) return loaded;
  io.err(formatErrors(loaded.errors));
  return undefined;
}

function desiredOf(loaded: LoadedResources, defaultVhost: string): DesiredTopology {
  return compile(routesOf(loaded.resources), retryPoliciesOf(loaded.resources), { defaultVhost });
}

const print = (io: Output, options: CommandOptions, data: unknown, text: () => string) =>
  io.out(options.json ? JSON.stringify(data, null, 2) : text());

export async function validateCommand(options: CommandOptions, io: Output): Promise<number> {
  const loaded = await loadResources(options.file);
  let conflicts: string[] = [];
  if (loaded.errors.length === 0) {
    // Cross-resource checks (a missing RetryPolicy, two routes on one queue) are part of validity.
    try {
      desiredOf(loaded, options.defaultVhost());
    } catch (error) {
      if (!(error instanceof CompileError)) throw error;
      conflicts = error.problems;
    }
  }
  const valid = loaded.errors.length + conflicts.length === 0;
  print(
    io,
    options,
    {
      valid,
      errors: loaded.errors,
      conflicts,
      resources: loaded.resources.length,
      files: loaded.files,
    },
    () =>
      valid
        ? `${loaded.resources.length} resources in ${loaded.files.length} files are valid.`
        : [formatErrors(loaded.errors), ...conflicts].filter(Boolean).join('\n'),
  );
  return valid ? EXIT.ok : EXIT.error;
}

/** Compile, read back and plan: the shared first half of plan, apply and status. */
async function prepare(options: CommandOptions, io: Output) {
  const loaded = await loadValid(options, io);
  if (!loaded) return undefined;
  const settings = options.broker();
  const desired = desiredOf(loaded, settings.defaultVhost);
  const client = new ManagementClient(settings.managementUrl);
  const vhosts = new Set([settings.defaultVhost, ...desired.vhosts.map((v) => v.vhost)]);
  const actual = await readActualState(client, vhosts);
  return { desired, client, actual, settings, plan: plan(desired, actual) };
}

export async function planCommand(options: CommandOptions, io: Output): Promise<number> {
  const prepared = await prepare(options, io);
  if (!prepared) return EXIT.error;
  const { plan: result, client } = prepared;
  print(io, options, { ...result, calls: client.calls }, () => formatPlan(result));
  return options.detailedExitcode && result.hasChanges ? EXIT.changes : EXIT.ok;
}

/** WARREN_PASSWORD_<SERVICE> (upper case, `-` as `_`) sets a service user's password; otherwise one is generated. */
const passwordFromEnv = (env: NodeJS.ProcessEnv) => (user: UserObject) =>
  env[`WARREN_PASSWORD_${user.service.toUpperCase().replace(/-/g, '_')}`];

export async function applyCommand(options: CommandOptions, io: Output): Promise<number> {
  const prepared = await prepare(options, io);
  if (!prepared) return EXIT.error;
  const { plan: result, client, settings } = prepared;
  const probe = amqpQueueProbe(settings.amqpUrl);
  const applied = await applyPlan(client, result, {
    passwordFor: passwordFromEnv(options.env),
    probeQueue: probe.probe,
  }).finally(() => probe.close());
  const impossible = result.items.filter((item) => item.action === 'impossible');
  print(io, options, { ...applied, impossible, calls: client.calls }, () =>
    [
      formatApply(applied, client.calls),
      ...impossible.map((item) => `  ! ${item.kind} ${item.name}: ${item.reason}`),
    ].join('\n'),
  );
  return applied.failed.length + impossible.length > 0 ? EXIT.error : EXIT.ok;
}

export async function statusCommand(options: CommandOptions, io: Output): Promise<number> {
  if (options.watch) return watchStatus(options, io);
  const prepared = await prepare(options, io);
  if (!prepared) return EXIT.error;
  const statuses = routeStatuses(prepared.desired.routes, prepared.plan, prepared.actual);
  print(io, options, statuses, () => formatStatus(statuses));
  return EXIT.ok;
}

export async function topologyCommand(options: CommandOptions, io: Output): Promise<number> {
  if (!options.service) throw new UsageError('topology needs --service NAME');
  const loaded = await loadValid(options, io);
  if (!loaded) return EXIT.error;
  const documents = desiredOf(loaded, options.defaultVhost()).services.filter(
    (s) => s.service === options.service,
  );
  if (documents.length === 0)
    throw new UsageError(`no EventRoute names service "${options.service}" as source or consumer`);
  if (documents.length > 1) {
    throw new UsageError(
      `service "${options.service}" is in several vhosts (${documents.map((d) => d.vhost).join(', ')}): pass --vhost`,
    );
  }
  io.out(JSON.stringify(documents[0], null, 2));
  return EXIT.ok;
}

/** The route named by --route, with its dead-letter queue. */
async function deadLetterRoute(options: CommandOptions, io: Output, command: string) {
  if (!options.route) throw new UsageError(`${command} needs --route NAME`);
  const loaded = await loadValid(options, io);
  if (!loaded) return undefined;
  const settings = options.broker();
  const { routes } = desiredOf(loaded, settings.defaultVhost);
  const wanted = options.route;
  const matches = routes.filter(
    (r) => r.route === wanted || r.route.slice(r.route.indexOf('/') + 1) === wanted,
  );
  if (matches.length === 0) {
    throw new UsageError(
      `no EventRoute "${wanted}" in ${options.file} (routes: ${routes.map((r) => r.route).join(', ')})`,
    );
  }
  if (matches.length > 1) {
    throw new UsageError(
      `"${wanted}" names several routes (${matches.map((r) => r.route).join(', ')}): pass namespace/name`,
    );
  }
  const route: RouteObjects = matches[0]!;
  if (!route.deadLetterQueue)
    throw new UsageError(`route ${route.route} has dead-lettering off (spec.deadLetter.enabled)`);
  return {
    route,
    ref: { amqpUrl: settings.amqpUrl, vhost: route.vhost, deadLetterQueue: route.deadLetterQueue },
  };
}

export async function deadLettersCommand(options: CommandOptions, io: Output): Promise<number> {
  const found = await deadLetterRoute(options, io, 'dead-letters');
  if (!found) return EXIT.error;
  const listing = await listDeadLetters(found.ref, options.limit ?? 20);
  print(
    io,
    options,
    {
      route: found.route.route,
      vhost: found.route.vhost,
      queue: found.ref.deadLetterQueue,
      ...listing,
    },
    () => formatDeadLetters(found.ref.deadLetterQueue, listing),
  );
  return EXIT.ok;
}

export async function redriveCommand(options: CommandOptions, io: Output): Promise<number> {
  const reasons = parseReasons(options.reason);
  const found = await deadLetterRoute(options, io, 'redrive');
  if (!found) return EXIT.error;
  const { route, ref } = found;
  const result = await redriveDeadLetters(ref, {
    queue: route.queue,
    limit: options.limit ?? Number.POSITIVE_INFINITY,
    reasons,
    // Progress on stderr, so `-o json` output stays parseable.
    onProgress: (redriven) => io.err(`redriven ${redriven} ...`),
  });
  print(
    io,
    options,
    { route: route.route, from: ref.deadLetterQueue, to: route.queue, ...result },
    () =>
      [
        `Redrove ${result.redriven} message${result.redriven === 1 ? '' : 's'} from ${ref.deadLetterQueue} to ${route.queue}` +
          (result.skipped ? ` (${result.skipped} of other reasons left in place)` : '') +
          '.',
        `${result.remaining} left in ${ref.deadLetterQueue}.`,
      ].join('\n'),
  );
  return EXIT.ok;
}
