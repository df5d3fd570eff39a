/** The `warren` commands. Each returns its exit code; output goes through `out`/`err`. */
import { applyPlan } from '../broker/apply';
import { ManagementClient } from '../broker/client';
import { listDeadLetters, redriveDeadLetters } from '../broker/dead-letters';
import { amqpQueueProbe } from '../broker/queue-probe';
import { readActualState } from '../broker/read';
import { CompileError, compile } from '../engine/compile';
import { parseReasons } from '../engine/dead-letters';
import type { DesiredTopology, RouteObjects } from '../engine/model';
import { plan } from '../engine/plan';
import { routeStatuses } from '../engine/status';
import type { BrokerSettings } from './connection';
import { UsageError } from './connection';
import { passwordFromEnv, saveCredentials, shownCredentials } from './credentials';
import { EXIT } from './exit';
import { formatApply, formatDeadLetters, formatErrors, formatPlan, formatStatus } from './format';
import type { LoadedResources } from './load';
import { retryPoliciesOf, routesOf } from './load';
import type { Output, OutputFormat, Paint } from './output';
import { render } from './output';
import { watchStatus } from './watch';

export type { Output } from './output';
export { EXIT } from './exit';

export interface CommandOptions {
  /** Where the resources come from, for messages: the -f paths, or the cluster's namespace. */
  source: string;
  /** The EventRoutes and RetryPolicies (of -f, or of the cluster with --kube). */
  resources: () => Promise<LoadedResources>;
  /** Positional arguments after the command's name (only commands that declare `args` get any). */
  args: string[];
  output: OutputFormat;
  paint: Paint;
  detailedExitcode: boolean;
  service?: string;
  vhost?: string;
  /** dead-letters, redrive: the EventRoute, as `name` or `namespace/name`. */
  route?: string;
  /** dead-letters: how many to show; redrive: how many to send back at most. */
  limit?: number;
  /** redrive: only these dead-letter reasons (comma-separated). */
  reason?: string;
  /** apply: where generated passwords are written (mode 0600). */
  credentialsFile: string;
  /** apply: print generated passwords too. */
  showSecrets: boolean;
  env: NodeJS.ProcessEnv;
  broker: () => Promise<BrokerSettings>;
  /** The vhost of routes without spec.vhost, without needing a broker. */
  defaultVhost: () => string;
  /** status: redraw every intervalSeconds until signal aborts (watch.ts). */
  watch?: boolean;
  intervalSeconds?: number;
  signal?: AbortSignal;
}

async function loadValid(
  options: CommandOptions,
  io: Output,
): Promise<LoadedResources | undefined> {
  const loaded = await options.resources();
  if (loaded.errors.length === 0) return loaded;
  io.err(formatErrors(loaded.errors));
  return undefined;
}

function desiredOf(
  loaded: LoadedResources,
  defaultVhost: string,
  brokerVersion?: string,
): DesiredTopology {
  return compile(routesOf(loaded.resources), retryPoliciesOf(loaded.resources), {
    defaultVhost,
    brokerVersion,
  });
}

export const print = (io: Output, options: CommandOptions, data: unknown, text: () => string) =>
  io.out(render(options.output, data, text));

export async function validateCommand(options: CommandOptions, io: Output): Promise<number> {
  const loaded = await options.resources();
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
  const settings = await options.broker();
  const client = new ManagementClient(settings.managementUrls);
  const desired = desiredOf(loaded, settings.defaultVhost, await client.brokerVersion());
  const vhosts = new Set([settings.defaultVhost, ...desired.vhosts.map((v) => v.vhost)]);
  const actual = await readActualState(client, vhosts);
  return { desired, client, actual, settings, plan: plan(desired, actual) };
}

export async function planCommand(options: CommandOptions, io: Output): Promise<number> {
  const prepared = await prepare(options, io);
  if (!prepared) return EXIT.error;
  const { plan: result, client } = prepared;
  print(io, options, { ...result, calls: client.calls }, () => formatPlan(result, options.paint));
  return options.detailedExitcode && result.hasChanges ? EXIT.changes : EXIT.ok;
}

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
  // Generated passwords go to the credentials file, never to the output (unless --show-secrets).
  const generated = applied.credentials.filter((c) => c.generated);
  const credentialsFile =
    generated.length > 0 ? await saveCredentials(options.credentialsFile, generated) : undefined;
  const credentials = shownCredentials(applied.credentials, options.showSecrets);
  print(
    io,
    options,
    { ...applied, credentials, credentialsFile, impossible, calls: client.calls },
    () =>
      [
        formatApply(applied, client.calls, { credentialsFile, showSecrets: options.showSecrets }),
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
  print(io, options, statuses, () => formatStatus(statuses, options.paint));
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
  print(io, options, documents[0], () => JSON.stringify(documents[0], null, 2));
  return EXIT.ok;
}

/** The route named by --route, with its dead-letter queue. */
async function deadLetterRoute(options: CommandOptions, io: Output, command: string) {
  if (!options.route) throw new UsageError(`${command} needs --route NAME`);
  const loaded = await loadValid(options, io);
  if (!loaded) return undefined;
  const settings = await options.broker();
  const { routes } = desiredOf(loaded, settings.defaultVhost);
  const wanted = options.route;
  const matches = routes.filter(
    (r) => r.route === wanted || r.route.slice(r.route.indexOf('/') + 1) === wanted,
  );
  if (matches.length === 0) {
    throw new UsageError(
      `no EventRoute "${wanted}" in ${options.source} (routes: ${routes.map((r) => r.route).join(', ')})`,
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
