import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InfraConfig } from './config';
import {
  assertPortFree,
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
} from './process';
import { ensureInstalled } from './install';
import type { LocalServer } from './server';

const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';

/**
 * A private RabbitMQ node (management + prometheus plugins) with all of its state, cookie,
 * plugin list and config in the project's state folder, so it never reads /etc/rabbitmq and
 * never collides with a system broker.
 */
export class RabbitMqServer implements LocalServer {
  readonly name = 'rabbitmq';
  private readonly dir: string;

  constructor(private readonly config: InfraConfig) {
    this.dir = path.join(config.stateDir, 'rabbitmq');
  }

  private get pidFile() {
    return path.join(this.dir, 'rabbitmq.pid');
  }

  private get startLog() {
    return path.join(this.dir, 'log', 'start.log');
  }

  private get logFile() {
    return path.join(this.dir, 'log', `${this.config.rabbitmq.nodeName}.log`);
  }

  private env(): NodeJS.ProcessEnv {
    const r = this.config.rabbitmq;
    return {
      ...process.env,
      HOME: this.dir,
      RABBITMQ_NODENAME: r.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(r.amqpPort),
      RABBITMQ_DIST_PORT: String(r.distPort),
      RABBITMQ_MNESIA_BASE: path.join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(this.dir, 'log'),
      RABBITMQ_PID_FILE: this.pidFile,
      RABBITMQ_CONFIG_FILE: path.join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(this.dir, 'enabled_plugins'),
      RABBITMQ_CONF_ENV_FILE: path.join(this.dir, 'rabbitmq-env.conf'),
    };
  }

  private ctl(args: string[], timeoutMs = 60_000) {
    return run(
      path.join(RABBITMQ_BIN, 'rabbitmqctl'),
      ['-n', this.config.rabbitmq.nodeName, ...args],
      {
        env: this.env(),
        timeoutMs,
      },
    );
  }

  install(log: (line: string) => void) {
    return ensureInstalled(path.join(RABBITMQ_BIN, 'rabbitmq-server'), 'rabbitmq-server', log);
  }

  describe() {
    const r = this.config.rabbitmq;
    return `amqp 127.0.0.1:${r.amqpPort}, management http://127.0.0.1:${r.managementPort}, prometheus http://127.0.0.1:${r.prometheusPort}/metrics`;
  }

  async isRunning(): Promise<boolean> {
    const pid = readPid(this.pidFile);
    if (pid === undefined || !isProcessOf(pid, 'beam')) return false;
    return (await isListening(this.config.rabbitmq.amqpPort)) && this.managementAnswers();
  }

  private async managementAnswers(): Promise<boolean> {
    try {
      const response = await fetch(
        `http://127.0.0.1:${this.config.rabbitmq.managementPort}/api/overview`,
        {
          headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
          signal: AbortSignal.timeout(2000),
        },
      );
      return response.ok;
    } catch {
      return false;
    }
  }

  private writeConfig() {
    const r = this.config.rabbitmq;
    ensureDir(path.join(this.dir, 'log'));
    fs.writeFileSync(
      path.join(this.dir, 'rabbitmq.conf'),
      [
        `listeners.tcp.default = 127.0.0.1:${r.amqpPort}`,
        `management.tcp.ip = 127.0.0.1`,
        `management.tcp.port = ${r.managementPort}`,
        `prometheus.tcp.ip = 127.0.0.1`,
        `prometheus.tcp.port = ${r.prometheusPort}`,
        // Refresh management/prometheus figures every 5 s (the default) but keep them per object.
        `prometheus.return_per_object_metrics = false`,
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(this.dir, 'enabled_plugins'),
      '[rabbitmq_management,rabbitmq_prometheus].\n',
    );
    fs.writeFileSync(path.join(this.dir, 'rabbitmq-env.conf'), '');
  }

  async start(log: (line: string) => void): Promise<void> {
    const r = this.config.rabbitmq;
    await assertPortFree(r.amqpPort, 'RabbitMQ AMQP', 'WARREN_RABBITMQ_PORT');
    await assertPortFree(
      r.managementPort,
      'RabbitMQ management',
      'WARREN_RABBITMQ_MANAGEMENT_PORT',
    );
    await assertPortFree(
      r.prometheusPort,
      'RabbitMQ prometheus',
      'WARREN_RABBITMQ_PROMETHEUS_PORT',
    );
    await assertPortFree(r.distPort, 'RabbitMQ distribution', 'WARREN_RABBITMQ_DIST_PORT');
    ensureDir(this.config.stateDir);
    ensureDir(this.dir, 0o700);
    this.writeConfig();
    // A pid file left by a crash makes `rabbitmqctl wait` watch a dead process.
    fs.rmSync(this.pidFile, { force: true });
    // epmd outlives the node; remember whether it was ours to stop later.
    const epmdBefore = (await run('epmd', ['-names'], { timeoutMs: 5000 })).code === 0;
    fs.writeFileSync(path.join(this.dir, 'epmd-started-by-us'), epmdBefore ? 'no' : 'yes');

    log(`starting RabbitMQ (${this.describe()}) ...`);
    // `-detached` exits 0 even when the node then fails: readiness is checked below.
    // Its output goes to a file: a pipe would be held open by the daemonised node.
    const code = await runToFile(
      path.join(RABBITMQ_BIN, 'rabbitmq-server'),
      ['-detached'],
      this.startLog,
      this.env(),
    );
    if (code !== 0)
      throw new InfraError(`rabbitmq-server -detached exited ${code}:\n${tail(this.startLog)}`);
    // The pid file appears only once the node has registered; `wait` needs it to exist.
    const hasPid = await waitUntil(async () => fs.existsSync(this.pidFile), 30_000);
    const waited = hasPid
      ? await this.ctl(['wait', this.pidFile, '--timeout', '60'], 90_000)
      : undefined;
    const ready = waited?.code === 0 && (await waitUntil(() => this.managementAnswers(), 30_000));
    if (!ready) {
      throw new InfraError(
        `RabbitMQ did not start (${waited?.stderr.trim() || 'no pid file'}). Log tail of ${this.logFile}:\n${tail(this.logFile)}`,
      );
    }
  }

  async stop(log: (line: string) => void): Promise<void> {
    const pid = readPid(this.pidFile);
    if (pid !== undefined && isProcessOf(pid, 'beam')) {
      log('stopping RabbitMQ ...');
      const shutdown = await this.ctl(['shutdown'], 60_000);
      if (shutdown.code !== 0) await terminate(pid);
    }
    fs.rmSync(this.pidFile, { force: true });
    const marker = path.join(this.dir, 'epmd-started-by-us');
    if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === 'yes') {
      // Only when no other Erlang node still relies on it.
      const names = await run('epmd', ['-names'], { timeoutMs: 5000 });
      if (!/^name /m.test(names.stdout)) await run('epmd', ['-kill'], { timeoutMs: 5000 });
      fs.rmSync(marker, { force: true });
    }
  }
}
