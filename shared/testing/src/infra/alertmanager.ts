import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InfraConfig } from './config';
import { HttpDaemon } from './http-daemon';
import { ensureInstalled } from './install';

const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

/**
 * A private Alertmanager (Debian's `prometheus-alertmanager`) that the private Prometheus sends
 * its alerts to. Every notification, firing and resolved, goes to the webhook receiver (see
 * alert-receiver.ts), which writes it to `<state>/alertmanager/alerts.log`. Short grouping
 * times: a local platform should show an alert seconds after Prometheus fires it.
 */
export class AlertmanagerServer extends HttpDaemon {
  constructor(private readonly config: InfraConfig) {
    super({
      name: 'alertmanager',
      title: 'Alertmanager',
      command: ALERTMANAGER_BIN,
      port: config.alertmanager.port,
      portVariable: 'WARREN_ALERTMANAGER_PORT',
      readyPath: '/-/ready',
      dir: path.join(config.stateDir, 'alertmanager'),
    });
  }

  install(log: (line: string) => void) {
    return ensureInstalled(ALERTMANAGER_BIN, 'prometheus-alertmanager', log);
  }

  protected args() {
    return [
      `--config.file=${path.join(this.dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(this.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${this.config.alertmanager.port}`,
      // No gossip port: a single private instance, never part of a cluster.
      '--cluster.listen-address=',
    ];
  }

  protected writeConfig() {
    const webhook = `http://127.0.0.1:${this.config.alertmanager.webhookPort}/alerts`;
    fs.writeFileSync(
      path.join(this.dir, 'alertmanager.yml'),
      `route:
  receiver: alerts-log
  group_by: [alertname, warren_route]
  group_wait: 2s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: alerts-log
    webhook_configs:
      - url: '${webhook}'
        send_resolved: true
`,
    );
  }
}
