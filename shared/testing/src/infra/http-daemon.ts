import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  assertPortFree,
  ensureDir,
  InfraError,
  isAlive,
  isProcessOf,
  readPid,
  spawnDetached,
  tail,
  terminate,
  waitUntil,
} from './process';
import type { LocalServer } from './server';

/** What distinguishes one single-process HTTP server (Prometheus, Alertmanager, a receiver). */
/** How long a live daemon may take to answer before its start counts as failed. */
const START_TIMEOUT_MS = 180_000;

const lastLine = (file: string) => tail(file, 1).trim().slice(0, 200);

export interface HttpDaemonSpec {
  name: string;
  /** Shown in messages ("Prometheus", "Alertmanager"). */
  title: string;
  /** The executable; also what its /proc cmdline must contain to count as ours. */
  command: string;
  port: number;
  /** The variable that moves the port, named when the port is taken. */
  portVariable: string;
  /** Answers 200 once the server is ready. */
  readyPath: string;
  /** The server's own folder under the state folder. */
  dir: string;
}

/**
 * A server that is one detached process with a pid file, a log file and an HTTP readiness path,
 * started from and stopped by its own state folder. Subclasses give its arguments and config.
 */
export abstract class HttpDaemon implements LocalServer {
  readonly name: string;

  constructor(protected readonly spec: HttpDaemonSpec) {
    this.name = spec.name;
  }

  abstract install(log: (line: string) => void): Promise<void>;

  /** Writes the config files the process reads. */
  protected abstract writeConfig(): void;

  /** The command-line arguments. */
  protected abstract args(): string[];

  protected get dir() {
    return this.spec.dir;
  }

  protected get pidFile() {
    return path.join(this.dir, `${this.name}.pid`);
  }

  get logFile() {
    return path.join(this.dir, `${this.name}.log`);
  }

  /** Where it listens. */
  get url() {
    return `http://127.0.0.1:${this.spec.port}`;
  }

  describe() {
    return this.url;
  }

  private async answers(): Promise<boolean> {
    const response = await fetch(`${this.url}${this.spec.readyPath}`, {
      signal: AbortSignal.timeout(2000),
    });
    return response.ok;
  }

  async isRunning(): Promise<boolean> {
    const pid = readPid(this.pidFile);
    return (
      pid !== undefined &&
      isProcessOf(pid, this.spec.command) &&
      isProcessOf(pid, this.dir) &&
      (await this.answers().catch(() => false))
    );
  }

  async start(log: (line: string) => void): Promise<void> {
    await assertPortFree(this.spec.port, this.spec.title, this.spec.portVariable);
    ensureDir(this.dir);
    this.writeConfig();
    log(`starting ${this.spec.title} (${this.url}) ...`);
    const pid = spawnDetached(this.spec.command, this.args(), this.logFile);
    fs.writeFileSync(this.pidFile, `${pid}\n`);
    // While the process lives, wait: Prometheus replays its write-ahead log before it answers,
    // which took 34 s after a 5,000-route benchmark. Each 15 s says what it is doing.
    const started = Date.now();
    let ready = false;
    while (!ready && isAlive(pid) && Date.now() - started < START_TIMEOUT_MS) {
      ready = await waitUntil(async () => !isAlive(pid) || (await this.answers()), 15_000);
      ready &&= isAlive(pid);
      if (!ready && isAlive(pid))
        log(
          `${this.spec.title} not answering yet after ${Math.round((Date.now() - started) / 1000)} s: ${lastLine(this.logFile)}`,
        );
    }
    if (!ready) {
      await terminate(pid);
      throw new InfraError(
        `${this.spec.title} did not start. Log tail of ${this.logFile}:\n${tail(this.logFile)}`,
      );
    }
  }

  async stop(log: (line: string) => void): Promise<void> {
    const pid = readPid(this.pidFile);
    if (pid !== undefined && isProcessOf(pid, this.spec.command) && isProcessOf(pid, this.dir)) {
      log(`stopping ${this.spec.title} ...`);
      await terminate(pid);
    }
    fs.rmSync(this.pidFile, { force: true });
  }
}
