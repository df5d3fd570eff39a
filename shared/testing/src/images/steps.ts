import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { InfraError, tail } from '../infra/process';

export type Log = (line: string) => void;

export const defaultLog: Log = (line) => process.stderr.write(`[warren images] ${line}\n`);

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

/**
 * Runs one long step with a line when it starts, one every 20 s while it runs and its duration at
 * the end: a cold build never looks stuck. Resolves with the step's result and its duration.
 */
export async function timedStep<T>(
  name: string,
  log: Log,
  work: () => Promise<T>,
): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  log(`${name} ...`);
  const ticker = setInterval(
    () => log(`${name}: still running, ${seconds(Date.now() - started)}`),
    20_000,
  );
  try {
    const result = await work();
    const ms = Date.now() - started;
    log(`${name}: done in ${seconds(ms)}`);
    return { result, ms };
  } finally {
    clearInterval(ticker);
  }
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Output (stdout and stderr) is appended here; a failure quotes its end. */
  logFile: string;
}

/** Runs a command to completion with its output in a log file; throws with the log's end on failure. */
export function runLogged(command: string, args: string[], options: CommandOptions): Promise<void> {
  const out = fs.openSync(options.logFile, 'a');
  fs.writeSync(out, `\n$ ${command} ${args.join(' ')}\n`);
  return new Promise<number>((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', out, out],
    });
    child.once('error', () => resolve(127));
    child.once('exit', (code) => resolve(code ?? 1));
  })
    .finally(() => fs.closeSync(out))
    .then((code) => {
      if (code !== 0) {
        throw new InfraError(
          `${command} ${args.slice(0, 3).join(' ')} ... failed (exit ${code}); end of ${options.logFile}:\n${tail(options.logFile, 40)}`,
        );
      }
    });
}

/** `producer | consumer`, both logged; fails when either fails. */
export function pipeLogged(
  producer: [string, string[]],
  consumer: [string, string[]],
  options: CommandOptions,
): Promise<void> {
  const out = fs.openSync(options.logFile, 'a');
  fs.writeSync(out, `\n$ ${producer.flat().join(' ')} | ${consumer.flat().join(' ')}\n`);
  const env = options.env ?? process.env;
  const left = spawn(producer[0], producer[1], { env, stdio: ['ignore', 'pipe', out] });
  const right = spawn(consumer[0], consumer[1], { env, stdio: ['pipe', out, out] });
  if (!left.stdout || !right.stdin) throw new InfraError('could not connect the pipe');
  left.stdout.pipe(right.stdin);
  const exit = (child: ReturnType<typeof spawn>) =>
    new Promise<number>((resolve) => {
      child.once('error', () => resolve(127));
      child.once('exit', (code) => resolve(code ?? 1));
    });
  return Promise.all([exit(left), exit(right)])
    .finally(() => fs.closeSync(out))
    .then(([a, b]) => {
      if (a !== 0 || b !== 0) {
        throw new InfraError(
          `${producer[0]} | ${consumer[0]} failed (exit ${a}/${b}); end of ${options.logFile}:\n${tail(options.logFile, 40)}`,
        );
      }
    });
}
