/**
 * `warren`: the topology engine without Kubernetes, or against a cluster with `--kube` (and as
 * `kubectl warren`). Exit codes: see ./exit.ts. Commands are listed in ./registry.ts, flags in
 * ./flags.ts.
 */
import { parseArgs } from 'node:util';
import type { Cluster } from './cluster';
import { clusterBrokerSettings, loadFromCluster, openCluster } from './cluster';
import type { CommandOptions } from './commands';
import { UsageError, brokerSettings, defaultVhost } from './connection';
import { DEFAULT_CREDENTIALS_FILE } from './credentials';
import { EXIT } from './exit';
import { FLAGS, flagsHelp } from './flags';
import { loadResources } from './load';
import type { Output, OutputFormat } from './output';
import { OUTPUT_FORMATS, paintFor } from './output';
import type { CommandSpec } from './registry';
import { COMMANDS, commandNamed } from './registry';
import { versions } from './version';

/** How the CLI was started: `kubectl warren` (the kubectl-warren bin) implies --kube. */
export type InvokedAs = 'warren' | 'kubectl-warren';

function usage(invokedAs: InvokedAs): string {
  const name = invokedAs === 'kubectl-warren' ? 'kubectl warren' : 'warren';
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `Usage: ${name} <command> ${invokedAs === 'kubectl-warren' ? '[-n NAMESPACE | -A]' : '-f PATH'} [options]

Commands:
${COMMANDS.map((c) => `  ${`${c.name}${c.args ? ` ${c.args}` : ''}`.padEnd(width + 9)}${c.summary}`).join('\n')}

Options:
${flagsHelp()}

Exit codes: 0 success (plan: no changes), 1 error, 2 plan --detailed-exitcode found changes.
Generated passwords of new service users go to a file of mode 0600 (--credentials-file), never to
the output; WARREN_PASSWORD_<SERVICE> sets one instead.`;
}

/** The message, and its cause's when that adds something (fetch's "fetch failed" says nothing). */
function describeError(error: unknown): string {
  // Duck-typed: errors of Node's own fetch come from another realm under Jest.
  const messageOf = (value: unknown) =>
    typeof value === 'object' && value !== null && 'message' in value
      ? String(value.message)
      : undefined;
  const message = messageOf(error) ?? String(error);
  const cause = messageOf((error as { cause?: unknown } | null)?.cause);
  return cause && !message.includes(cause) ? `${message}: ${cause}` : message;
}

function positiveInteger(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new UsageError(`${flag} takes a whole number of at least 1, not "${raw}"`);
  return value;
}

function outputFormat(raw: string | undefined): OutputFormat {
  const format = raw ?? 'text';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`-o must be ${OUTPUT_FORMATS.join(', ')}, not "${format}"`);
  return format as OutputFormat;
}

/**
 * Where a command's resources come from: -f, the cluster (--kube, implied by kubectl warren when
 * no -f is given), or nowhere; throws a UsageError for combinations that make no sense.
 */
export function resourceSource(
  command: CommandSpec,
  given: { files: number; kube: boolean; clusterFlags: boolean; invokedAs: InvokedAs },
): 'files' | 'cluster' | 'none' {
  const { name, resources } = command;
  const kube = given.kube || (given.invokedAs === 'kubectl-warren' && given.files === 0);
  if (resources === 'none') {
    if (given.files > 0) throw new UsageError(`${name} takes no -f`);
    return 'none';
  }
  if (kube && resources === 'files')
    throw new UsageError(
      `${name} reads files only (-f PATH); --kube is for ${COMMANDS.filter(
        (c) => c.resources === 'files-or-cluster',
      )
        .map((c) => c.name)
        .join(', ')}`,
    );
  if (kube && given.files > 0) throw new UsageError(`${name}: give -f PATH or --kube, not both`);
  if (!kube && given.clusterFlags) throw new UsageError('-n, -A and --context go with --kube');
  if (kube) return 'cluster';
  if (given.files === 0)
    throw new UsageError(
      `${name} needs -f PATH${resources === 'files-or-cluster' ? ' (or --kube to read the cluster)' : ''}`,
    );
  return 'files';
}

export async function run(
  argv: string[],
  io: Output,
  env: NodeJS.ProcessEnv = process.env,
  invokedAs: InvokedAs = 'warren',
): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: FLAGS,
    });
    if (values.version) {
      io.out(`warren ${versions().cli}`);
      return EXIT.ok;
    }
    const [name, ...args] = positionals;
    if (values.help || !name) {
      io.out(usage(invokedAs));
      return values.help ? EXIT.ok : EXIT.error;
    }
    const command = commandNamed(name);
    if (!command) throw new UsageError(`unknown command "${name}"\n\n${usage(invokedAs)}`);
    if (!command.args && args.length > 0)
      throw new UsageError(`unexpected arguments: ${args.join(' ')}`);
    const files = values.filename ?? [];
    const fromCluster =
      resourceSource(command, {
        files: files.length,
        kube: values.kube ?? false,
        clusterFlags:
          values.namespace !== undefined ||
          !!values['all-namespaces'] ||
          values.context !== undefined,
        invokedAs,
      }) === 'cluster';

    const brokerFlags = {
      rabbitmqUrl: values['rabbitmq-url'],
      managementUrl: values['management-url'],
      vhost: values.vhost,
    };
    let cluster: Cluster | undefined;
    const clusterOf = () =>
      (cluster ??= openCluster(
        {
          kubeconfig: values.kubeconfig,
          context: values.context,
          namespace: values.namespace,
          allNamespaces: values['all-namespaces'] ?? false,
          brokerSecret: values['broker-secret'],
        },
        env,
      ));
    if (fromCluster) clusterOf(); // kubeconfig errors before anything else
    const options: CommandOptions = {
      source: fromCluster ? clusterOf().describe : files.join(', '),
      resources: () =>
        fromCluster ? loadFromCluster(clusterOf()) : loadResources(files, io.readStdin),
      args,
      output: outputFormat(values.output),
      paint: paintFor(env, io.isTTY ?? false),
      detailedExitcode: values['detailed-exitcode'] ?? false,
      service: values.service,
      route: values.route,
      limit: values.limit === undefined ? undefined : positiveInteger('--limit', values.limit),
      reason: values.reason,
      vhost: values.vhost,
      credentialsFile: values['credentials-file'] ?? DEFAULT_CREDENTIALS_FILE,
      showSecrets: values['show-secrets'] ?? false,
      env,
      defaultVhost: () => defaultVhost(brokerFlags, env),
      broker: async () =>
        fromCluster
          ? clusterBrokerSettings(clusterOf(), brokerFlags, env)
          : brokerSettings(brokerFlags, env),
    };
    return await command.run(options, io);
  } catch (error) {
    // Usage, compile, broker and API errors alike: one line naming what is wrong, exit 1.
    io.err(`warren: ${describeError(error)}`);
    return EXIT.error;
  }
}

/** The process entry point (the bins call it): real stdout/stderr/stdin, exit code set. */
export function main(argv = process.argv.slice(2), invokedAs: InvokedAs = 'warren'): void {
  run(
    argv,
    {
      out: (text) => process.stdout.write(`${text}\n`),
      err: (text) => process.stderr.write(`${text}\n`),
      isTTY: process.stdout.isTTY ?? false,
    },
    process.env,
    invokedAs,
  ).then((code) => {
    process.exitCode = code;
  });
}

if (require.main === module)
  main(
    process.argv.slice(2),
    process.env.WARREN_INVOKED_AS === 'kubectl-warren' ? 'kubectl-warren' : 'warren',
  );
