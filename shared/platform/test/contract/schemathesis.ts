/**
 * Schemathesis (PyPI), the schema-driven fuzzer of the contract test: installed on demand into a
 * virtual environment in the shared cache (~/.cache/warren/schemathesis-<version>), once per
 * machine, then run against a service's /openapi.json with every check on.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCommand } from '@warren/testing';

export const SCHEMATHESIS_VERSION = '4.32.5';
export const CONFIG_FILE = path.join(__dirname, 'schemathesis.toml');

function cacheDir(): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'warren', `schemathesis-${SCHEMATHESIS_VERSION}`);
}

/** The schemathesis executable, installed first when the cache has none (python3 -m venv + pip). */
export async function ensureSchemathesis(log: (line: string) => void): Promise<string> {
  const venv = cacheDir();
  const executable = path.join(venv, 'bin', 'schemathesis');
  // Written last: a venv without it is a half-done install and is done again.
  const complete = path.join(venv, '.warren-complete');
  if (existsSync(complete)) return executable;
  rmSync(venv, { recursive: true, force: true });
  mkdirSync(path.dirname(venv), { recursive: true });
  log(`installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI into ${venv} (about a minute)`);
  const steps: [string, string[]][] = [
    ['python3', ['-m', 'venv', venv]],
    [
      path.join(venv, 'bin', 'pip'),
      [
        'install',
        '--quiet',
        '--disable-pip-version-check',
        `schemathesis==${SCHEMATHESIS_VERSION}`,
      ],
    ],
  ];
  for (const [command, args] of steps) {
    const result = await runCommand(command, args, { timeoutMs: 600_000 });
    if (result.code !== 0) {
      rmSync(venv, { recursive: true, force: true });
      throw new Error(
        `installing schemathesis failed: ${command} ${args.join(' ')} (exit ${result.code}); ` +
          `it needs python3 with venv and access to PyPI\n${result.stderr || result.stdout}`,
      );
    }
  }
  writeFileSync(complete, `${new Date().toISOString()}\n`);
  return executable;
}

export interface FuzzRun {
  /** schemathesis' exit code: 0 when no check failed. */
  code: number;
  output: string;
}

export interface FuzzLimits {
  /** Test cases per operation and phase. */
  maxExamples: number;
  /** The whole run's time budget. */
  maxSeconds: number;
  seed: number;
}

/** Every check, every phase (examples, coverage, fuzzing, stateful), against one service. */
export async function fuzzService(
  executable: string,
  serviceUrl: string,
  limits: FuzzLimits,
): Promise<FuzzRun> {
  const result = await runCommand(
    executable,
    [
      '--config-file',
      CONFIG_FILE,
      'run',
      `${serviceUrl}/openapi.json`,
      '--checks',
      'all',
      '--max-examples',
      String(limits.maxExamples),
      '--max-time',
      String(limits.maxSeconds),
      '--seed',
      String(limits.seed),
      '--generation-database',
      'none',
      '--request-timeout',
      '10',
      '--no-color',
    ],
    // Its own caches (.schemathesis/) go beside the venv, not into the checkout.
    { timeoutMs: (limits.maxSeconds + 120) * 1000, cwd: path.dirname(cacheDir()) },
  );
  return { code: result.code, output: `${result.stdout}${result.stderr}` };
}
