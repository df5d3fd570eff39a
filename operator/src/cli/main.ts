/**
 * `warren`: the topology engine without Kubernetes. Exit codes: 0 success (plan: no changes),
 * 1 errors (invalid input, broker failures, changes not possible in place on apply),
 * 2 `plan --detailed-exitcode` found changes.
 */
import { parseArgs } from 'node:util';
import type { CommandOptions, Output } from './commands';
import {
  EXIT,
  applyCommand,
  deadLettersCommand,
  planCommand,
  redriveCommand,
  statusCommand,
  topologyCommand,
  validateCommand,
} from './commands';
import { asyncapiCommand } from './asyncapi-command';
import { UsageError, brokerSettings, defaultVhost } from './connection';

const USAGE = `Usage: warren <command> -f PATH [options]

Commands:
  validate      check resources with the CRDs' OpenAPI schemas and CEL rules (no broker needed)
  plan          show what apply would change on the broker
  apply         make the broker match the resources
  status        per-route state read back from the broker (depth, consumers, drift)
  topology      print the topology document of one service (--service NAME)
  asyncapi      print the AsyncAPI 3.0 document of the declared events (YAML; all services or --service NAME)
  dead-letters  list a route's dead letters (--route NAME), leaving them in place
  redrive       send a route's dead letters back to its queue with a fresh set of attempts

Options:
  -f, --filename PATH       a YAML/JSON file or a folder of them (read recursively)
  -o, --output text|json    output format (default text)
      --detailed-exitcode   plan: exit 0 when nothing would change, 2 when something would
      --service NAME        topology, asyncapi: the service
      --route NAME          dead-letters, redrive: the EventRoute (name or namespace/name)
      --limit N             dead-letters: how many to show (default 20); redrive: at most N
      --reason LIST         redrive: only these reasons (retries-exhausted, non-retryable,
                            contract-invalid; comma-separated)
      --vhost NAME          vhost of routes without spec.vhost (default: the AMQP URL's, else "/")
      --rabbitmq-url URL    AMQP URL (env RABBITMQ_URL)
      --management-url URL  management API URL with credentials (env RABBITMQ_MANAGEMENT_URL)
  -h, --help

Passwords of new service users come from WARREN_PASSWORD_<SERVICE> or are generated and printed once.`;

const COMMANDS = {
  validate: validateCommand,
  plan: planCommand,
  apply: applyCommand,
  status: statusCommand,
  topology: topologyCommand,
  asyncapi: asyncapiCommand,
  'dead-letters': deadLettersCommand,
  redrive: redriveCommand,
} as const;

function positiveInteger(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new UsageError(`${flag} takes a whole number of at least 1, not "${raw}"`);
  return value;
}

export async function run(
  argv: string[],
  io: Output,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        filename: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o', default: 'text' },
        'detailed-exitcode': { type: 'boolean', default: false },
        service: { type: 'string' },
        route: { type: 'string' },
        limit: { type: 'string' },
        reason: { type: 'string' },
        vhost: { type: 'string' },
        'rabbitmq-url': { type: 'string' },
        'management-url': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const [name, ...extra] = positionals;
    if (values.help || !name) {
      io.out(USAGE);
      return values.help ? EXIT.ok : EXIT.error;
    }
    const command = COMMANDS[name as keyof typeof COMMANDS];
    if (!command) throw new UsageError(`unknown command "${name}"\n\n${USAGE}`);
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    if (!values.filename) throw new UsageError(`${name} needs -f PATH`);
    if (values.output !== 'text' && values.output !== 'json')
      throw new UsageError('-o must be text or json');
    const options: CommandOptions = {
      file: values.filename,
      json: values.output === 'json',
      detailedExitcode: values['detailed-exitcode'],
      service: values.service,
      route: values.route,
      limit: values.limit === undefined ? undefined : positiveInteger('--limit', values.limit),
      reason: values.reason,
      vhost: values.vhost,
      env,
      defaultVhost: () =>
        defaultVhost({ rabbitmqUrl: values['rabbitmq-url'], vhost: values.vhost }, env),
      broker: () =>
        brokerSettings(
          {
            rabbitmqUrl: values['rabbitmq-url'],
            managementUrl: values['management-url'],
            vhost: values.vhost,
          },
          env,
        ),
    };
    return await command(options, io);
  } catch (error) {
    // Usage, compile and broker errors alike: one line naming what is wrong, exit 1.
    io.err(`warren: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.error;
  }
}

if (require.main === module) {
  run(process.argv.slice(2), {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  }).then((code) => {
    process.exitCode = code;
  });
}
