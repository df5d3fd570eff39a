/**
 * `npm run infra -- up|down|status|env`: the project's own RabbitMQ, PostgreSQL and Prometheus.
 */
import {
  infraDown,
  infraStatus,
  infraUp,
  InfraError,
  loadInfraConfig,
  localServerUrls,
} from '../infra';

const USAGE = 'usage: npm run infra -- up|down|status|env';
const log = (line: string) => process.stderr.write(`infra: ${line}\n`);

function shellExports(urls: Record<string, string>): string {
  return Object.entries(urls)
    .map(([key, value]) => `export ${key}='${value}'`)
    .join('\n');
}

async function main(command: string | undefined): Promise<number> {
  const config = loadInfraConfig();
  switch (command) {
    case 'up': {
      const { urls, started } = await infraUp(log, config);
      log(started.length > 0 ? `started ${started.join(', ')}` : 'everything was already running');
      for (const [key, value] of Object.entries(urls)) process.stdout.write(`${key}=${value}\n`);
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

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(
      `infra: ${error instanceof InfraError ? error.message : (error.stack ?? error.message)}\n`,
    );
    process.exit(1);
  },
);
