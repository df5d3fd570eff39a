import * as fs from 'node:fs';
import * as path from 'node:path';
import { rabbitMqNodeAddresses, type InfraConfig } from './config';
import { HttpDaemon } from './http-daemon';
import { ensureInstalled } from './install';
import { ensureDir, InfraError } from './process';

const PROMETHEUS_BIN = '/usr/bin/prometheus';

/** The scrape jobs whose targets are files in `<state>/prometheus/targets/<job>/` (file_sd). */
export const FILE_TARGET_JOBS = ['warren-services', 'warren-operator'] as const;
export type FileTargetJob = (typeof FILE_TARGET_JOBS)[number];

/** One scrape target of a file_sd job: host:port and the labels its series get. */
export interface ScrapeTarget {
  address: string;
  labels: Record<string, string>;
}

/**
 * A private Prometheus scraping the private broker every 5 s (the broker's own refresh rate),
 * aggregated and per queue (depth, consumers, head timestamp; publishes into and deliveries and
 * acks out of each queue, for the dashboards), plus the targets written into `<state>/prometheus/targets` (the
 * services, the operator); loading every rule file dropped into `<state>/prometheus/rules`, and
 * sending its alerts to the private Alertmanager.
 */
export class PrometheusServer extends HttpDaemon {
  constructor(private readonly config: InfraConfig) {
    super({
      name: 'prometheus',
      title: 'Prometheus',
      command: PROMETHEUS_BIN,
      port: config.prometheus.port,
      portVariable: 'WARREN_PROMETHEUS_PORT',
      readyPath: '/-/ready',
      dir: path.join(config.stateDir, 'prometheus'),
    });
  }

  /** Rule files written here are picked up on the next reload (`POST /-/reload`). */
  get rulesDir() {
    return path.join(this.dir, 'rules');
  }

  targetsDir(job: FileTargetJob) {
    return path.join(this.dir, 'targets', job);
  }

  install(log: (line: string) => void) {
    return ensureInstalled(PROMETHEUS_BIN, 'prometheus', log);
  }

  protected args() {
    return [
      `--config.file=${path.join(this.dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(this.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${this.config.prometheus.port}`,
      '--web.enable-lifecycle',
      '--storage.tsdb.retention.time=2d',
    ];
  }

  protected writeConfig() {
    ensureDir(this.rulesDir);
    for (const job of FILE_TARGET_JOBS) ensureDir(this.targetsDir(job));
    // Every node of the broker: in a cluster each node reports its own share.
    const broker = rabbitMqNodeAddresses(this.config)
      .map((node) => `'127.0.0.1:${node.prometheusPort}'`)
      .join(', ');
    const fileJobs = FILE_TARGET_JOBS.map(
      (job) => `  - job_name: ${job}
    file_sd_configs: [{ files: ['${this.targetsDir(job)}/*.json'] }]
`,
    ).join('');
    const config = `global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - ${this.rulesDir}/*.yml
  - ${this.rulesDir}/*.yaml
alerting:
  alertmanagers:
    - static_configs: [{ targets: ['127.0.0.1:${this.config.alertmanager.port}'] }]
scrape_configs:
  - job_name: rabbitmq
    static_configs: [{ targets: [${broker}] }]
  - job_name: rabbitmq-queues
    metrics_path: /metrics/detailed
    params:
      family: [queue_coarse_metrics, queue_metrics, channel_queue_metrics, channel_queue_exchange_metrics]
    static_configs: [{ targets: [${broker}] }]
${fileJobs}`;
    fs.writeFileSync(path.join(this.dir, 'prometheus.yml'), config);
  }

  /**
   * Rewrites the config (a Prometheus started by an older checkout gets today's) and reloads it
   * with every rule file; throws with Prometheus's answer when a rule file is refused.
   */
  async reload(): Promise<void> {
    this.writeConfig();
    const response = await fetch(`${this.url}/-/reload`, {
      method: 'POST',
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok)
      throw new InfraError(`Prometheus refused its config or rules: ${await response.text()}`);
  }

  /** Writes `<rules>/<name>.yml` (a Prometheus rule file: `{ groups: [...] }`) and reloads. */
  async writeRules(name: string, ruleFileYaml: string): Promise<string> {
    ensureDir(this.rulesDir);
    const file = path.join(this.rulesDir, `${name}.yml`);
    fs.writeFileSync(file, ruleFileYaml);
    await this.reload();
    return file;
  }

  async removeRules(name: string): Promise<void> {
    fs.rmSync(path.join(this.rulesDir, `${name}.yml`), { force: true });
    await this.reload();
  }

  /** Writes the targets of one job under a name (file_sd notices the file within seconds). */
  writeTargets(job: FileTargetJob, name: string, targets: ScrapeTarget[]): string {
    const dir = ensureDir(this.targetsDir(job));
    const file = path.join(dir, `${name}.json`);
    const groups = targets.map((target) => ({ targets: [target.address], labels: target.labels }));
    // Written whole and renamed, so Prometheus never reads half a file.
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(groups, null, 2));
    fs.renameSync(`${file}.tmp`, file);
    return file;
  }

  removeTargets(job: FileTargetJob, name: string): void {
    fs.rmSync(path.join(this.targetsDir(job), `${name}.json`), { force: true });
  }
}
