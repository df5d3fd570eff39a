import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot, runCommand } from '@warren/testing';

export const SERVICE_NAMES = ['user-service', 'order-service', 'notification-service'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const DEFAULT_PORTS: Record<ServiceName, number> = {
  'user-service': 3001,
  'order-service': 3002,
  'notification-service': 3003,
};

export const serviceDir = (name: ServiceName): string => path.join(repoRoot, 'services', name);

/** Compiles the services (tsc -b, incremental): Nest needs the decorator metadata tsc emits. */
export async function buildServices(log: (line: string) => void): Promise<void> {
  const tsc = require.resolve('typescript/bin/tsc');
  log('building the services (tsc -b; about a minute on a fresh clone) ...');
  const started = Date.now();
  const { code, stdout, stderr } = await runCommand(
    process.execPath,
    [tsc, '-b', ...SERVICE_NAMES.map(serviceDir)],
    { cwd: repoRoot, timeoutMs: 600_000 },
  );
  if (code !== 0) {
    throw new Error(`building the services failed (tsc exit ${code}):\n${stdout}${stderr}`);
  }
  log(`services built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

export interface ServiceProcessOptions {
  name: ServiceName;
  port: number;
  host: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr (JSON log lines) are appended here. */
  logFile: string;
}

/** How a service's process ended. */
export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One service running from its compiled output as a child process. */
export class ServiceProcess {
  readonly url: string;
  private child: ChildProcess | undefined;
  private exit: Promise<ServiceExit> | undefined;

  constructor(private readonly options: ServiceProcessOptions) {
    this.url = `http://${options.host}:${options.port}`;
  }

  get name(): ServiceName {
    return this.options.name;
  }

  /** The running process's id (a benchmark reads its CPU time). */
  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /** Starts the service; `env` adds to (or overrides) its environment for this run only. */
  start(env: NodeJS.ProcessEnv = {}): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    // The child writes its log lines to the file itself: through a pipe to this process, a busy
    // event loop here (a benchmark's load generator) would stall the service's synchronous writes.
    const log = openSync(this.options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [path.join(serviceDir(this.name), 'dist', 'main.js')], {
        cwd: serviceDir(this.name),
        env: {
          ...this.options.env,
          ...env,
          PORT: String(this.options.port),
          HOST: this.options.host,
        },
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.child = child;
  }

  /** Polls /readyz until it answers 200; fails early when the process exits. */
  async waitReady(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (!this.running)
        throw new Error(`${this.name} exited before it was ready:\n${this.logTail()}`);
      try {
        const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
        if (response.ok) return;
        last = `${response.status} ${await response.text()}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(
      `${this.name} not ready within ${timeoutMs} ms (last answer: ${last}):\n${this.logTail()}`,
    );
  }

  /**
   * Graceful stop (SIGTERM: in-flight work finishes), SIGKILL when it takes too long; resolves
   * how it ended (a service that shut down cleanly re-raises SIGTERM, as Nest does).
   */
  async stop(timeoutMs = 15_000): Promise<ServiceExit | undefined> {
    if (!this.running) return undefined;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    const exit = await this.exit!;
    clearTimeout(timer);
    return exit;
  }

  /** Resolves how the process ended, once it ends by itself (e.g. a failed start). */
  exited(): Promise<ServiceExit | undefined> {
    return this.exit ?? Promise.resolve(undefined);
  }

  /** The process dies at once, as in a crash: nothing is flushed, nothing is closed. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exit;
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.options.logFile, 'utf8')
        .trimEnd()
        .split('\n')
        .slice(-lines)
        .join('\n');
    } catch {
      return '(no log)';
    }
  }
}
