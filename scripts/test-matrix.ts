/**
 * `npm test` after the type check: Jest once with every suite against the default broker (the
 * newest RabbitMQ), then the broker-facing suites again on the other versions and on a
 * three-node cluster, each leg a Jest run of its own with its own broker (started and stopped by
 * Jest's global setup). Ends with one line summing every leg, `Tests: N passed, N failed,
 * N skipped`, the line CI reads.
 *
 * - Arguments (`npm test -- path/to/file`) go to the default leg only, and the other legs are
 *   skipped: a run of chosen files is a developer's quick check.
 * - WARREN_TEST_MATRIX=0 skips the other legs; WARREN_TEST_MATRIX=3.10,cluster runs just those.
 * - Servers given in the environment (RABBITMQ_URL...) are one broker: only the default leg runs.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MATRIX_LEGS, type MatrixLeg } from '../shared/testing/src/jest/matrix';

interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  failedSuites: number;
}

const repoRoot = path.resolve(__dirname, '..');
const jestBin = require.resolve('jest/bin/jest');
const log = (line: string) => process.stdout.write(`[test matrix] ${line}\n`);

function runJest(leg: MatrixLeg, args: string[]): Promise<{ summary: Summary; seconds: number }> {
  const summaryFile = path.join(
    fs.mkdtempSync(path.join(os.tmpdir(), 'warren-matrix-')),
    'summary.json',
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...leg.env,
    WARREN_TEST_SUMMARY_FILE: summaryFile,
    WARREN_TEST_LEG: leg.name,
  };
  const started = Date.now();
  return new Promise((resolve) => {
    // The user's arguments first: an array option of the leg (`--testPathPatterns=...`) would
    // take the positional paths after it as more of its values.
    const child = spawn(process.execPath, [jestBin, ...args, ...leg.jestArgs], {
      cwd: repoRoot,
      env,
      stdio: 'inherit',
    });
    child.once('exit', (code) => {
      const seconds = (Date.now() - started) / 1000;
      let summary: Summary;
      try {
        summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as Summary;
      } catch {
        // Jest died before reporting (a global set-up failure): the leg counts as one failure.
        summary = { passed: 0, failed: 1, skipped: 0, failedSuites: 1 };
      }
      if (code !== 0 && summary.failed === 0 && summary.failedSuites === 0) summary.failed = 1;
      fs.rmSync(path.dirname(summaryFile), { recursive: true, force: true });
      resolve({ summary, seconds });
    });
  });
}

function chosenLegs(args: string[]): MatrixLeg[] {
  const [defaultLeg, ...others] = MATRIX_LEGS;
  const wanted = process.env.WARREN_TEST_MATRIX;
  if (args.length > 0 || wanted === '0' || process.env.RABBITMQ_URL) return [defaultLeg!];
  if (!wanted || wanted === '1') return MATRIX_LEGS;
  const names = wanted.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !MATRIX_LEGS.some((leg) => leg.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `WARREN_TEST_MATRIX names unknown legs ${unknown.join(', ')}: choose from ${MATRIX_LEGS.map((l) => l.name).join(', ')}`,
    );
  }
  return [defaultLeg!, ...others.filter((leg) => names.includes(leg.name))];
}

async function main(args: string[]): Promise<number> {
  const legs = chosenLegs(args);
  const total: Summary = { passed: 0, failed: 0, skipped: 0, failedSuites: 0 };
  const timings: string[] = [];
  for (const leg of legs) {
    log(`leg ${leg.name}: ${leg.description}`);
    const { summary, seconds } = await runJest(leg, leg === legs[0] ? args : []);
    for (const key of Object.keys(total) as (keyof Summary)[]) total[key] += summary[key];
    timings.push(
      `${leg.name} ${seconds.toFixed(0)} s (${summary.passed} passed, ${summary.failed} failed)`,
    );
  }
  log(`legs: ${timings.join('; ')}`);
  process.stdout.write(
    `Tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`,
  );
  return total.failed + total.failedSuites > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`test matrix: ${error.message}\n`);
    process.exit(2);
  },
);
