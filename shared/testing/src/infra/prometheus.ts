import * as fs from 'node:fs';
import * as path from 'node:path';
import { rabbitMqNodeAddresses, type InfraConfig } from './config';
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
import { ensureInstalled } from './install';
import type { LocalServer } from './server';

const PROMETHEUS_BIN = '/usr/bin/prometheus';

/**
 * A private Prometheus scraping the private broker every 5 s (the broker's own refresh rate),
 * aggregated and per queue, and loading every rule file dropped into `<state>/prometheus/rules`.
 */
export class PrometheusServer implements LocalServer {
  readonly name = 'prometheus';
  private readonly dir: string;

  constructor(private readonly config: InfraConfig) {
    this.dir = path.join(config.stateDir, 'prometheus');
  }

  private get pidFile() {
    return path.join(this.dir, 'prometheus.pid');
  }

  private get logFile() {
    return path.join(this.dir, 'prometheus.log');
  }

  /** Rule files written here are picked up on the next reload (`POST /-/reload`). */
  get rulesDir() {
    return path.join(this.dir, 'rules');
  }

  install(log: (line: string) => void) {
    return ensureInstalled(PROMETHEUS_BIN, 'prometheus', log);
  }

  describe() {
    return `http://127.0.0.1:${this.config.prometheus.port}`;
  }

  private async answers(): Promise<boolean> {
    const response = await fetch(`${this.describe()}/-/ready`, {
      signal: AbortSignal.timeout(2000),
    });
    return response.ok;
  }

  async isRunning(): Promise<boolean> {
    const pid = readPid(this.pidFile);
    return (
      pid !== undefined &&
      isProcessOf(pid, PROMETHEUS_BIN) &&
      (await this.answers().catch(() => false))
    );
  }

  private writeConfig() {
    // Every node of the broker: in a cluster each node reports its own share.
    const broker = rabbitMqNodeAddresses(this.config)
      .map((node) => `'127.0.0.1:${node.prometheusPort}'`)
      .join(', ');
    const config = `global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - ${this.rulesDir}/*.yml
  - ${this.rulesDir}/*.yaml
scrape_configs:
  - job_name: rabbitmq
    static_configs: [{ targets: [${broker}] }]
  - job_name: rabbitmq-queues
    metrics_path: /metrics/detailed
    params:
      family: [queue_coarse_metrics, queue_metrics]
    static_configs: [{ targets: [${broker}] }]
`;
    fs.writeFileSync(path.join(this.dir, 'prometheus.yml'), config);
  }

  async start(log: (line: string) => void): Promise<void> {
    const port = this.config.prometheus.port;
    await assertPortFree(port, 'Prometheus', 'WARREN_PROMETHEUS_PORT');
    ensureDir(this.rulesDir);
    this.writeConfig();
    log(`starting Prometheus (${this.describe()}) ...`);
    const pid = spawnDetached(
      PROMETHEUS_BIN,
      [
        `--config.file=${path.join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-lifecycle',
        '--storage.tsdb.retention.time=2d',
      ],
      this.logFile,
    );
    fs.writeFileSync(this.pidFile, `${pid}\n`);
    const ready = await waitUntil(async () => isAlive(pid) && (await this.answers()), 30_000);
    if (!ready) {
      await terminate(pid);
      throw new InfraError(
        `Prometheus did not start. Log tail of ${this.logFile}:\n${tail(this.logFile)}`,
      );
    }
  }

  async stop(log: (line: string) => void): Promise<void> {
    const pid = readPid(this.pidFile);
    if (pid !== undefined && isProcessOf(pid, PROMETHEUS_BIN)) {
      log('stopping Prometheus ...');
      await terminate(pid);
    }
    fs.rmSync(this.pidFile, { force: true });
  }
}
