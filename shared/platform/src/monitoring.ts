/**
 * The platform's alerting, live: the per-route rules the operator would put into PrometheusRules
 * (the same generator), loaded into the project's Prometheus, which scrapes the services (and an
 * operator, when one runs) and notifies the project's Alertmanager; its webhook receiver writes
 * every notification to a log. The Grafana dashboards are written to `<state>/dashboards/`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { dashboardFiles, operatorRuleFile, routeRuleFile } from '@warren/operator';
import {
  AlertmanagerServer,
  AlertReceiverServer,
  loadInfraConfig,
  PrometheusServer,
  type InfraConfig,
} from '@warren/testing';
import type { ServiceProcess } from './services';

export interface MonitoringOptions {
  /** Names the rule and target files, so several platforms share one Prometheus (tests). */
  name: string;
  resources: string;
  vhost: string;
  services: ServiceProcess[];
  /** host:port of a running operator's /metrics: its own alerts are loaded too. */
  operatorMetrics?: string;
  /** Tests only: every non-zero `for:` of the route alerts (see RuleOptions.pendingFor). */
  pendingFor?: string;
  config?: InfraConfig;
}

export interface Monitoring {
  prometheusUrl: string;
  alertmanagerUrl: string;
  /** Every notification Alertmanager sent, one line per alert. */
  alertsLog: string;
  /** The Grafana dashboards (`<uid>.json`), for import. */
  dashboardsDir: string;
  /** Removes this platform's rules and targets from Prometheus. */
  stop(): Promise<void>;
}

const ruleName = (name: string, kind: string) => `${name}.${kind}`;

export async function startMonitoring(options: MonitoringOptions): Promise<Monitoring> {
  const config = options.config ?? loadInfraConfig();
  const prometheus = new PrometheusServer(config);
  const alertmanager = new AlertmanagerServer(config);
  const receiver = new AlertReceiverServer(config);
  for (const server of [prometheus, alertmanager, receiver]) {
    if (!(await server.isRunning()))
      throw new Error(`${server.name} is not running: start it with 'npm run infra -- up'`);
  }
  prometheus.writeTargets(
    'warren-services',
    options.name,
    options.services.map((service) => ({
      address: new URL(service.url).host,
      labels: { service: service.name, platform: options.name },
    })),
  );
  if (options.operatorMetrics) {
    prometheus.writeTargets('warren-operator', options.name, [
      { address: options.operatorMetrics, labels: { platform: options.name } },
    ]);
  }
  await prometheus.writeRules(
    ruleName(options.name, 'routes'),
    await routeRuleFile(options.resources, options.vhost, { pendingFor: options.pendingFor }),
  );
  if (options.operatorMetrics) {
    await prometheus.writeRules(
      ruleName(options.name, 'operator'),
      operatorRuleFile(`job="warren-operator", platform="${options.name}"`),
    );
  }
  const dashboardsDir = path.join(config.stateDir, 'dashboards');
  mkdirSync(dashboardsDir, { recursive: true });
  for (const file of dashboardFiles())
    writeFileSync(path.join(dashboardsDir, file.name), file.content);
  return {
    dashboardsDir,
    prometheusUrl: prometheus.url,
    alertmanagerUrl: alertmanager.url,
    alertsLog: receiver.alertsLog,
    stop: async () => {
      prometheus.removeTargets('warren-services', options.name);
      prometheus.removeTargets('warren-operator', options.name);
      await prometheus.removeRules(ruleName(options.name, 'routes'));
      await prometheus.removeRules(ruleName(options.name, 'operator'));
    },
  };
}
