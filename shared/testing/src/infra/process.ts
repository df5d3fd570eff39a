import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

/** Thrown for failures a user can act on; the CLI prints only the message. */
export class InfraError extends Error {
  override name = 'InfraError';
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, never throwing on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        env: options.env ?? process.env,
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 16 << 20,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({
          code,
          stdout: String(stdout),
          stderr: String(stderr) || (error && code !== 0 ? error.message : ''),
        });
      },
    );
  });
}

/** Starts a long-running server detached from this process, output appended to a log file. */
export function spawnDetached(
  command: string,
  args: string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
): number {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', out, out],
    env: env ?? process.env,
  });
  child.unref();
  fs.closeSync(out);
  if (child.pid === undefined) throw new InfraError(`could not start ${command}`);
  return child.pid;
}

/** Runs a command with its output appended to a file and resolves with its exit code. */
export function runToFile(
  command: string,
  args: string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
): Promise<number> {
  const out = fs.openSync(logFile, 'a');
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', out, out], env: env ?? process.env });
    child.once('error', () => resolve(127));
    child.once('exit', (code) => resolve(code ?? 1));
  }).finally(() => fs.closeSync(out)) as Promise<number>;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when pid runs a command line containing `needle`: a recycled pid is never ours. */
export function isProcessOf(pid: number, needle: string): boolean {
  try {
    return isAlive(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return false;
  }
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim().split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function assertPortFree(port: number, what: string, envVar: string): Promise<void> {
  if (await isListening(port)) {
    throw new InfraError(
      `port ${port} (${what}) is already taken by another process: stop it, or choose another port with ${envVar}=<port>`,
    );
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or the deadline passes. */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await sleep(intervalMs);
  }
  return false;
}

/** Sends SIGTERM, then SIGKILL if the process outlives the grace period. */
export async function terminate(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  if (await waitUntil(async () => !isAlive(pid), graceMs, 100)) return;
  process.kill(pid, 'SIGKILL');
  await waitUntil(async () => !isAlive(pid), 5000, 100);
}

export function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

export function ensureDir(dir: string, mode = 0o755): string {
  fs.mkdirSync(dir, { recursive: true, mode });
  return dir;
}
