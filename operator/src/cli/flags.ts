/**
 * Every flag of `warren`, in one table: node:util parseArgs reads it as is (it ignores the extra
 * keys), and so do `--help` and the completion scripts.
 */
export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in --help. */
  value?: string;
  /** Completion offers these values (or `file` / `directory` paths). */
  complete?: readonly string[] | 'file';
  help: string;
}

export const FLAGS = {
  filename: {
    type: 'string',
    short: 'f',
    multiple: true,
    value: 'PATH',
    complete: 'file',
    help: 'a YAML/JSON file, a folder of them (read recursively) or - for standard input; repeatable',
  },
  output: {
    type: 'string',
    short: 'o',
    value: 'FORMAT',
    complete: ['text', 'json', 'yaml'],
    help: 'text (default), json or yaml',
  },
  'detailed-exitcode': {
    type: 'boolean',
    help: 'plan: exit 0 when nothing would change, 2 when something would',
  },
  watch: {
    type: 'boolean',
    short: 'w',
    help: 'status: redraw per route (worst first) until Ctrl-C; colours on a terminal unless NO_COLOR; plain frames in a pipe',
  },
  interval: {
    type: 'string',
    value: 'SECONDS',
    help: 'status --watch: seconds between refreshes (default 2)',
  },
  service: { type: 'string', value: 'NAME', help: 'topology, asyncapi: the service' },
  route: {
    type: 'string',
    value: 'NAME',
    help: 'dead-letters, redrive: the EventRoute (name or namespace/name)',
  },
  limit: {
    type: 'string',
    value: 'N',
    help: 'dead-letters: how many to show (default 20); redrive: at most N',
  },
  reason: {
    type: 'string',
    value: 'LIST',
    complete: ['retries-exhausted', 'non-retryable', 'contract-invalid'],
    help: 'redrive: only these reasons (retries-exhausted, non-retryable, contract-invalid; comma-separated)',
  },
  vhost: {
    type: 'string',
    value: 'NAME',
    help: 'vhost of routes without spec.vhost (default: the AMQP URL\'s, else "/")',
  },
  'rabbitmq-url': { type: 'string', value: 'URL', help: 'AMQP URL (env RABBITMQ_URL)' },
  'management-url': {
    type: 'string',
    value: 'URL',
    help: 'management API URL with credentials (env RABBITMQ_MANAGEMENT_URL)',
  },
  'credentials-file': {
    type: 'string',
    value: 'PATH',
    complete: 'file',
    help: 'apply: where generated passwords go (mode 0600; default ./warren-credentials.env)',
  },
  'show-secrets': {
    type: 'boolean',
    help: 'apply: also print generated passwords (the only way the CLI prints one)',
  },
  kube: {
    type: 'boolean',
    help: 'plan, status, dead-letters, redrive: read the routes from the cluster, not -f',
  },
  namespace: {
    type: 'string',
    short: 'n',
    value: 'NAME',
    help: "--kube: the namespace (default: the kubeconfig context's)",
  },
  'all-namespaces': {
    type: 'boolean',
    short: 'A',
    help: '--kube: routes and retry policies of every namespace',
  },
  kubeconfig: {
    type: 'string',
    value: 'PATH',
    complete: 'file',
    help: '--kube: kubeconfig file (default: KUBECONFIG, else ~/.kube/config)',
  },
  context: { type: 'string', value: 'NAME', help: '--kube: kubeconfig context (default: current)' },
  'broker-secret': {
    type: 'string',
    value: '[NAMESPACE/]NAME',
    help: "--kube: the operator's broker Secret (default warren-broker in the namespace)",
  },
  version: { type: 'boolean', help: 'print the version and exit' },
  help: { type: 'boolean', short: 'h', help: 'this help' },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof FLAGS;

export function flagsHelp(): string {
  const left = (name: string, flag: FlagSpec) =>
    `${flag.short ? `-${flag.short}, ` : '    '}--${name}${flag.value ? ` ${flag.value}` : ''}`;
  const entries = Object.entries(FLAGS) as [string, FlagSpec][];
  const width = Math.max(...entries.map(([name, flag]) => left(name, flag).length)) + 2;
  return entries
    .map(([name, flag]) => `  ${left(name, flag).padEnd(width)}${flag.help}`)
    .join('\n');
}
