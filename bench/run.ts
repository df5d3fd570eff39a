/**
 * `npm run bench [-- engine messaging services]`: runs the benchmarks one after the other, each in
 * its own process (so one's memory and connections never skew the next), against the servers
 * named by the environment or the project's own (`npm run infra -- up`).
 * Each prints its own table, with its baseline measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { infraUp, localServerUrls, loadInfraConfig } from '@warren/testing';

const ALL = ['engine', 'messaging', 'services', 'operator'] as const;

async function main() {
  const chosen = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
  const unknown = chosen.filter((name) => !(ALL as readonly string[]).includes(name));
  if (unknown.length > 0) {
    process.stderr.write(
      `bench: unknown benchmark ${unknown.join(', ')}; choose from ${ALL.join(', ')}\n`,
    );
    process.exit(2);
  }
  if (!process.env.RABBITMQ_URL) {
    await infraUp((line) => process.stderr.write(`bench: ${line}\n`));
    Object.assign(process.env, localServerUrls(loadInfraConfig()));
  }
  for (const name of chosen.length > 0 ? chosen : ALL) {
    process.stdout.write(`\n=== ${name} ===\n`);
    const started = Date.now();
    const result = spawnSync(
      process.execPath,
      ['--conditions=warren-source', '--import', 'tsx', path.join(__dirname, `${name}.ts`)],
      { stdio: 'inherit', env: process.env },
    );
    process.stdout.write(
      `=== ${name}: ${((Date.now() - started) / 1000).toFixed(0)} s, exit ${result.status} ===\n`,
    );
    if (result.status !== 0) process.exitCode = 1;
  }
}

void main();
