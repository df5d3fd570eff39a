/**
 * The webhook receiver Alertmanager notifies: one line per alert per notification, appended to
 * a log a user can `tail -f` (its path is printed by `npm start` and named in the README):
 *
 *   2026-12-01T10:00:00.000Z FIRING   WarrenQueueWithoutConsumers route=default/x queue=q severity=critical: summary
 *
 * Run as its own process: `node alert-receiver.(ts|js) <port> <log file>`.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { InfraConfig } from './config';
import { HttpDaemon } from './http-daemon';

/** The part of Alertmanager's webhook payload (version 4) the log shows. */
export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const SHOWN_LABELS = ['warren_route', 'vhost', 'queue', 'service', 'kind', 'severity'] as const;

/** One log line per alert: time, status, alert name, the labels on-call needs, the summary. */
export function alertLogLine(alert: WebhookAlert, at: Date): string {
  const labels = SHOWN_LABELS.filter((key) => alert.labels[key])
    .map((key) => `${key === 'warren_route' ? 'route' : key}=${alert.labels[key]}`)
    .join(' ');
  const route = alert.labels.warren_namespace
    ? labels.replace(
        `route=${alert.labels.warren_route}`,
        `route=${alert.labels.warren_namespace}/${alert.labels.warren_route}`,
      )
    : labels;
  const summary = alert.annotations.summary ? `: ${alert.annotations.summary}` : '';
  return `${at.toISOString()} ${alert.status.toUpperCase().padEnd(8)} ${alert.labels.alertname ?? '?'} ${route}${summary}`;
}

function serve(port: number, logFile: string): void {
  const server = http.createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/-/ready') {
      response.writeHead(200).end('ready\n');
      return;
    }
    if (request.method !== 'POST' || request.url !== '/alerts') {
      response.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          alerts?: WebhookAlert[];
        };
        const now = new Date();
        const lines = (body.alerts ?? []).map((alert) => `${alertLogLine(alert, now)}\n`);
        fs.appendFileSync(logFile, lines.join(''));
        response.writeHead(200).end();
      } catch (error) {
        response.writeHead(400).end(`${(error as Error).message}\n`);
      }
    });
  });
  server.listen(port, '127.0.0.1');
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

/** The receiver as a project-owned server: started and stopped with the others. */
export class AlertReceiverServer extends HttpDaemon {
  constructor(private readonly config: InfraConfig) {
    super({
      name: 'alert-receiver',
      title: 'the alert webhook receiver',
      command: process.execPath,
      port: config.alertmanager.webhookPort,
      portVariable: 'WARREN_ALERT_WEBHOOK_PORT',
      readyPath: '/-/ready',
      dir: path.join(config.stateDir, 'alertmanager'),
    });
  }

  /** Every notification Alertmanager sent, one line per alert. */
  get alertsLog() {
    return path.join(this.dir, 'alerts.log');
  }

  install() {
    return Promise.resolve();
  }

  protected writeConfig() {}

  protected args() {
    // From the sources (tsx) when this module is TypeScript, else the compiled file.
    const loader = __filename.endsWith('.ts') ? ['--import', 'tsx'] : [];
    return [...loader, __filename, String(this.config.alertmanager.webhookPort), this.alertsLog];
  }

  override describe() {
    return `${this.url}/alerts -> ${this.alertsLog}`;
  }
}

if (require.main === module) {
  const [port, logFile] = process.argv.slice(2);
  if (!port || !logFile) {
    process.stderr.write('usage: alert-receiver <port> <log file>\n');
    process.exit(2);
  }
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  serve(Number(port), logFile);
}
