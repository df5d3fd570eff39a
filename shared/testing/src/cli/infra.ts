/**
 * `npm run infra -- up|down|status|env [--rabbitmq 3.10|4.0|4.3] [--cluster N]`: the project's
 * own RabbitMQ (one node or a cluster of one version), PostgreSQL and Prometheus.
 */
import {
  infraDown,
  infraStatus,
  infraUp,
  InfraError,
  loadInfraConfig,
  localServerUrls,
} from '../infra';

const USAGE = 'usage: npm run infra -- up|down|status|env [--rabbitmq 3.10|4.0|4.3] [--cluster N]';

class UsageError extends Error {}

/** `--rabbitmq V` and `--cluster N` (also `--x=v`) become the variables the config reads. */
function applyOptions(args: string[]): void {
  const names: Record<string, string> = {
    '--rabbitmq': 'WARREN_RABBITMQ_VERSION',
    '--cluster': 'WARREN_RABBITMQ_NODES',
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.split('=', 2) as [string, string | undefined];
    const variable = names[flag];
    if (!variable) throw new UsageError(`unknown option '${args[i]}'`);
    const value = inline ?? args[++i];
    if (value === undefined || value.startsWith('--'))
      throw new UsageError(`${flag} needs a value`);
    process.env[variable] = value;
  }
}
const log = (line: string) => process.stderr.write(`infra: ${line}\n`);

function shellExports(urls: Record<string, string | undefined>): string {
  return Object.entries(urls)
    .map(([key, value]) => `export ${key}='${value}'`)
    .join('\n');
}

async function main(command: string | undefined, args: string[]): Promise<number> {
  try {
    applyOptions(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`infra: ${error.message}; ${USAGE}\n`);
    return 2;
  }
  let config: ReturnType<typeof loadInfraConfig>;
  try {
    config = loadInfraConfig();
  } catch (error) {
    // A bad variable or option value: one line that names it.
    process.stderr.write(`infra: ${(error as Error).message}\n`);
    return 2;
  }
  switch (command) {
    case 'up': {
      const { urls, started } = await infraUp(log, config);
      log(started.length > 0 ? `started ${started.join(', ')}` : 'everything was already running');
      for (const [key, value] of Object.entries(urls))
        if (value !== undefined) process.stdout.write(`${key}=${value}\n`);
      return 0;
    }
    case 'down':
      await infraDown(log, config);
      log('stopped');
      return 0;
    case 'status': {
      const rows = await infraStatus(config);
      for (const row of rows)
        process.stdout.write(
          `${row.name.padEnd(15)} ${row.running ? 'running' : 'stopped'}  ${row.where}\n`,
        );
      return rows.every((row) => row.running) ? 0 : 3;
    }
    case 'env':
      process.stdout.write(`${shellExports({ ...localServerUrls(config) })}\n`);
      return 0;
    default:
      process.stderr.write(
        `infra: ${command === undefined ? 'missing sub-command' : `unknown sub-command '${command}'`}; ${USAGE}\n`,
      );
      return 2;
  }
}

main(process.argv[2], process.argv.slice(3)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(
      `infra: ${error instanceof InfraError ? error.message : (error.stack ?? error.message)}\n`,
    );
    process.exit(1);
  },
);
