/**
 * `npm start`: the whole platform on this machine. Brings up the project's own servers and
 * keeps them until Ctrl-C, then stops what it started.
 */
import { infraDown, infraUp, loadInfraConfig } from '@warren/testing';

const log = (line: string) => process.stderr.write(`start: ${line}\n`);

async function main() {
  const config = loadInfraConfig();
  const { urls, started } = await infraUp(log, config);
  for (const [key, value] of Object.entries(urls))
    process.stdout.write(`${key.padEnd(24)} ${value}\n`);
  process.stdout.write('Press Ctrl-C to stop.\n');
  const stop = async () => {
    log('stopping ...');
    if (started.length > 0) await infraDown(log, config, started);
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  setInterval(() => {}, 1 << 30);
}

main().catch((error: Error) => {
  log(error.message);
  process.exit(1);
});
