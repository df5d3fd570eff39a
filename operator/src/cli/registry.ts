/**
 * The one list of `warren` commands: main.ts dispatches through it, and `--help` and the
 * completion scripts are made from it. A new command is a module exporting its function plus
 * one entry here.
 */
import { asyncapiCommand } from './asyncapi-command';
import type { CommandOptions } from './commands';
import {
  applyCommand,
  deadLettersCommand,
  planCommand,
  redriveCommand,
  statusCommand,
  topologyCommand,
  validateCommand,
} from './commands';
import { completionCommand } from './completion';
import type { Output } from './output';
import { versionCommand } from './version';

export interface CommandSpec {
  name: string;
  summary: string;
  /** Reads EventRoutes/RetryPolicies: from -f, or (when `cluster`) from the API server with --kube. */
  resources: 'files' | 'files-or-cluster' | 'none';
  /** Positional arguments it takes, for --help (none when absent). */
  args?: string;
  /** Values completion offers for the first positional argument. */
  argValues?: readonly string[];
  run(options: CommandOptions, io: Output): Promise<number>;
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'validate',
    summary: "check resources with the CRDs' OpenAPI schemas and CEL rules (no broker needed)",
    resources: 'files',
    run: validateCommand,
  },
  {
    name: 'plan',
    summary: 'show what apply would change on the broker',
    resources: 'files-or-cluster',
    run: planCommand,
  },
  {
    name: 'apply',
    summary: 'make the broker match the resources',
    resources: 'files',
    run: applyCommand,
  },
  {
    name: 'status',
    summary: 'per-route state read back from the broker (depth, consumers, drift)',
    resources: 'files-or-cluster',
    run: statusCommand,
  },
  {
    name: 'topology',
    summary: 'print the topology document of one service (--service NAME)',
    resources: 'files',
    run: topologyCommand,
  },
  {
    name: 'asyncapi',
    summary:
      'print the AsyncAPI 3.0 document of the declared events (YAML; all services or --service NAME)',
    resources: 'files',
    run: asyncapiCommand,
  },
  {
    name: 'dead-letters',
    summary: "list a route's dead letters (--route NAME), leaving them in place",
    resources: 'files-or-cluster',
    run: deadLettersCommand,
  },
  {
    name: 'redrive',
    summary: "send a route's dead letters back to its queue with a fresh set of attempts",
    resources: 'files-or-cluster',
    run: redriveCommand,
  },
  {
    name: 'version',
    summary: 'the CLI, engine and CRD versions',
    resources: 'none',
    run: versionCommand,
  },
  {
    name: 'completion',
    summary: 'print a shell completion script (bash or zsh)',
    resources: 'none',
    args: 'bash|zsh',
    argValues: ['bash', 'zsh'],
    run: (options, io) => completionCommand(options, io, COMMANDS),
  },
];

export const commandNamed = (name: string): CommandSpec | undefined =>
  COMMANDS.find((command) => command.name === name);
