import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RabbitMqNodeAddress } from './config';
import {
  ensureDir,
  InfraError,
  isListening,
  isProcessOf,
  readPid,
  run,
  runToFile,
  tail,
  terminate,
  waitUntil,
  type RunResult,
} from './process';

export const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';

/** The plugins every node runs: the management API, metrics, and the broker's event stream. */
export const RABBITMQ_PLUGINS = [
  'rabbitmq_management',
  'rabbitmq_prometheus',
  'rabbitmq_event_exchange',
];

/**
 * Where a node's programs run: the host itself, or a root filesystem entered with chroot (the
 * same paths inside, since the state folder is bind-mounted at its own path).
 */
export interface NodeRuntime {
  /** The chroot folder, or undefined for the host. */
  root?: string;
  epmdPort: number;
}

/**
 * One private RabbitMQ node: state, logs, pid file, config and plugin list in its own folder,
 * the Erlang cookie in the shared HOME, so it never reads /etc/rabbitmq and never collides with
 * a system broker or another checkout's nodes.
 */
export class RabbitMqNode {
  readonly dir: string;

  constructor(
    readonly address: RabbitMqNodeAddress,
    /** HOME of every node of the set: holds the shared Erlang cookie. */
    private readonly home: string,
    private readonly runtime: NodeRuntime,
    /** Parent of the node's own folder: one per broker version (data is not portable). */
    dataDir: string,
  ) {
    this.dir = path.join(dataDir, address.nodeName);
  }

  get name() {
    return this.address.nodeName;
  }

  get pidFile() {
    return path.join(this.dir, 'rabbitmq.pid');
  }

  private get startLog() {
    return path.join(this.dir, 'log', 'start.log');
  }

  get logFile() {
    return path.join(this.dir, 'log', `${this.address.nodeName}.log`);
  }

  managementUrl(): string {
    return `http://127.0.0.1:${this.address.managementPort}`;
  }

  env(): NodeJS.ProcessEnv {
    const a = this.address;
    const base: NodeJS.ProcessEnv = this.runtime.root
      ? { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }
      : { ...process.env };
    return {
      ...base,
      HOME: this.home,
      ERL_EPMD_PORT: String(this.runtime.epmdPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_NODENAME: a.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(a.amqpPort),
      RABBITMQ_DIST_PORT: String(a.distPort),
      RABBITMQ_MNESIA_BASE: path.join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(this.dir, 'log'),
      RABBITMQ_PID_FILE: this.pidFile,
      RABBITMQ_CONFIG_FILE: path.join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(this.dir, 'enabled_plugins'),
      RABBITMQ_CONF_ENV_FILE: path.join(this.dir, 'rabbitmq-env.conf'),
    };
  }

  /** A program of the runtime with its arguments, wrapped in chroot for a root filesystem. */
  private command(program: string, args: string[]): [string, string[]] {
    return this.runtime.root ? ['chroot', [this.runtime.root, program, ...args]] : [program, args];
  }

  /** Runs a program of the node's runtime (e.g. `epmd`) with the node's environment. */
  runProgram(program: string, args: string[], timeoutMs = 10_000): Promise<RunResult> {
    const [command, argv] = this.command(program, args);
    return run(command, argv, { env: this.env(), timeoutMs });
  }

  ctl(args: string[], timeoutMs = 60_000): Promise<RunResult> {
    return this.runProgram(
      path.join(RABBITMQ_BIN, 'rabbitmqctl'),
      ['-n', this.name, ...args],
      timeoutMs,
    );
  }

  /** Runs rabbitmqctl and throws with its output when it fails. */
  async ctlOrThrow(args: string[], timeoutMs = 60_000): Promise<string> {
    const result = await this.ctl(args, timeoutMs);
    if (result.code !== 0) {
      throw new InfraError(
        `rabbitmqctl -n ${this.name} ${args.join(' ')} exited ${result.code}: ${(result.stderr || result.stdout).trim()}`,
      );
    }
    return result.stdout;
  }

  pid(): number | undefined {
    const pid = readPid(this.pidFile);
    return pid !== undefined && isProcessOf(pid, 'beam') ? pid : undefined;
  }

  async isRunning(): Promise<boolean> {
    if (this.pid() === undefined) return false;
    return (await isListening(this.address.amqpPort)) && this.managementAnswers();
  }

  async managementAnswers(): Promise<boolean> {
    try {
      const response = await fetch(`${this.managementUrl()}/api/overview`, {
        headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
        signal: AbortSignal.timeout(2000),
      });
      return response.ok;
    } catch {
      return false;
    }
  }

  private writeConfig() {
    const a = this.address;
    ensureDir(path.join(this.dir, 'log'));
    fs.writeFileSync(
      path.join(this.dir, 'rabbitmq.conf'),
      [
        `listeners.tcp.default = 127.0.0.1:${a.amqpPort}`,
        `management.tcp.ip = 127.0.0.1`,
        `management.tcp.port = ${a.managementPort}`,
        `prometheus.tcp.ip = 127.0.0.1`,
        `prometheus.tcp.port = ${a.prometheusPort}`,
        // Refresh management/prometheus figures every 5 s (the default), aggregated.
        `prometheus.return_per_object_metrics = false`,
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(this.dir, 'enabled_plugins'), `[${RABBITMQ_PLUGINS.join(',')}].\n`);
    fs.writeFileSync(path.join(this.dir, 'rabbitmq-env.conf'), '');
  }

  /** Deletes the node's data (a fresh node on the next start). Only while it is stopped. */
  wipe(): void {
    fs.rmSync(path.join(this.dir, 'mnesia'), { recursive: true, force: true });
  }

  /** Starts the node and waits until it answers AMQP and the management API. */
  async start(log: (line: string) => void, describe: string): Promise<void> {
    ensureDir(this.dir, 0o700);
    this.writeConfig();
    // A pid file left by a crash makes `rabbitmqctl wait` watch a dead process.
    fs.rmSync(this.pidFile, { force: true });
    log(`starting RabbitMQ node ${this.name} (${describe}) ...`);
    // `-detached` exits 0 even when the node then fails: readiness is checked below.
    // Its output goes to a file: a pipe would be held open by the daemonised node.
    const [command, argv] = this.command(path.join(RABBITMQ_BIN, 'rabbitmq-server'), ['-detached']);
    const code = await runToFile(command, argv, this.startLog, this.env());
    if (code !== 0)
      throw new InfraError(`rabbitmq-server -detached exited ${code}:\n${tail(this.startLog)}`);
    // The pid file appears only once the node has registered; `wait` needs it to exist.
    const hasPid = await waitUntil(async () => fs.existsSync(this.pidFile), 60_000);
    const waited = hasPid
      ? await this.ctl(['wait', this.pidFile, '--timeout', '90'], 120_000)
      : undefined;
    const ready = waited?.code === 0 && (await waitUntil(() => this.managementAnswers(), 60_000));
    if (!ready) {
      throw new InfraError(
        `RabbitMQ node ${this.name} did not start (${waited?.stderr.trim() || 'no pid file'}). Log tail of ${this.logFile}:\n${tail(this.logFile)}\n${tail(this.startLog, 10)}`,
      );
    }
  }

  /** A clean shutdown (SIGTERM, then SIGKILL, when rabbitmqctl cannot reach it). */
  async stop(log: (line: string) => void): Promise<void> {
    const pid = this.pid();
    if (pid !== undefined) {
      log(`stopping RabbitMQ node ${this.name} ...`);
      const shutdown = await this.ctl(['shutdown'], 60_000);
      if (shutdown.code !== 0) await terminate(pid);
      await waitUntil(async () => this.pid() === undefined, 15_000, 100);
    }
    fs.rmSync(this.pidFile, { force: true });
  }

  /** What a crash looks like: SIGKILL to the node's Erlang VM, no shutdown at all. */
  async kill(): Promise<void> {
    const pid = this.pid();
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    await waitUntil(async () => this.pid() === undefined, 10_000, 50);
  }
}
