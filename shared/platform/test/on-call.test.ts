/**
 * What on-call sees, in the local platform with the real broker, services and Prometheus.
 *
 * Dashboards: after a little load (users, orders, one poison message), every query of every
 * generated dashboard returns series from the real Prometheus (variables set to this platform's
 * vhost, route and service). The operator dashboard's queries run against the operator's own
 * metrics registry (createOperatorMetrics, every metric touched once) served on a port and
 * scraped as job warren-operator: no operator runs here.
 *
 * Alerts: an alert's whole life in the local platform, through the real Prometheus and Alertmanager:
 * the route rules `npm start` loads (the operator's generator) with `for:` shortened to 10s for
 * the test only. notification-service stops, a user registers, its welcome event waits in a
 * queue nobody consumes: WarrenQueueWithoutConsumers goes inactive -> pending -> firing, reaches
 * Alertmanager and the receiver's log; the service comes back, drains the queue, the alert
 * resolves and the log says so. Takes about a minute (scrape and evaluation every 5 s).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as amqp from 'amqplib';
import { ALERT_NAMES, buildDashboards, createOperatorMetrics } from '@warren/operator';
import { eventually, loadInfraConfig, localServerUrls } from '@warren/testing';
import {
  EXAMPLES,
  startIsolatedPlatform,
  startMonitoring,
  type IsolatedPlatform,
  type Monitoring,
} from '../src';
import { http } from './support/test-platform';

const ROUTE = 'user-created-to-notification';
const QUEUE = `notification-service.${ROUTE}`;

interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}
interface PromRule {
  name: string;
  state: 'inactive' | 'pending' | 'firing';
  labels: Record<string, string>;
  query: string;
}

let platform: IsolatedPlatform;
let monitoring: Monitoring;
const local = localServerUrls(loadInfraConfig());
// Only against the project's own servers: the test needs its Prometheus and Alertmanager.
const live = process.env.PROMETHEUS_URL === local.PROMETHEUS_URL ? describe : describe.skip;

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const ours = (labels: Record<string, string>) =>
  labels.alertname === ALERT_NAMES.noConsumers &&
  labels.warren_route === ROUTE &&
  labels.vhost === platform.broker.vhost;

async function ruleState(): Promise<PromRule['state'] | undefined> {
  const body = await getJson<{ data: { groups: { rules: PromRule[] }[] } }>(
    `${monitoring.prometheusUrl}/api/v1/rules?type=alert`,
  );
  const rule = body.data.groups
    .flatMap((group) => group.rules)
    .find(
      (r) =>
        r.name === ALERT_NAMES.noConsumers &&
        r.labels.warren_route === ROUTE &&
        r.labels.vhost === platform.broker.vhost,
    );
  return rule?.state;
}

async function prometheusAlert(): Promise<PromAlert | undefined> {
  const body = await getJson<{ data: { alerts: PromAlert[] } }>(
    `${monitoring.prometheusUrl}/api/v1/alerts`,
  );
  return body.data.alerts.find((alert) => ours(alert.labels));
}

async function alertmanagerAlert(): Promise<{ status: { state: string } } | undefined> {
  const alerts = await getJson<{ labels: Record<string, string>; status: { state: string } }[]>(
    `${monitoring.alertmanagerUrl}/api/v2/alerts`,
  );
  return alerts.find((alert) => ours(alert.labels));
}

const logLines = (status: 'FIRING' | 'RESOLVED') =>
  (existsSync(monitoring.alertsLog) ? readFileSync(monitoring.alertsLog, 'utf8') : '')
    .split('\n')
    .filter(
      (line) =>
        line.includes(` ${status} `) &&
        line.includes(ALERT_NAMES.noConsumers) &&
        line.includes(`queue=${QUEUE}`) &&
        line.includes(`vhost=${platform.broker.vhost}`),
    );

let operatorServer: Server | undefined;

/** The operator's metrics registry, every metric touched once, scraped as job warren-operator. */
async function serveOperatorMetrics(): Promise<void> {
  const metrics = createOperatorMetrics();
  metrics.reconciles.inc({ kind: 'EventRoute', result: 'success' });
  metrics.reconcileDuration.observe({ kind: 'EventRoute' }, 0.02);
  metrics.driftRepairs.inc({ object: 'queue' });
  metrics.brokerRequests.inc({ method: 'GET' });
  metrics.brokerChanges.inc();
  metrics.kubeRequests.inc({ method: 'GET' });
  metrics.migrationRuns.inc({ result: 'succeeded' });
  metrics.migrationDuration.observe({ result: 'succeeded' }, 4);
  metrics.workQueueDepth.set(0);
  metrics.leader.set(1);
  operatorServer = createServer((_request, response) => {
    void metrics.registry.metrics().then((text) => {
      response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
    });
  });
  await new Promise<void>((resolve) => operatorServer!.listen(0, '127.0.0.1', resolve));
  const { port } = operatorServer.address() as AddressInfo;
  await monitoring.stop();
  monitoring = await startMonitoring({
    name: platform.broker.vhost,
    resources: EXAMPLES,
    vhost: platform.broker.vhost,
    services: Object.values(platform.services),
    operatorMetrics: `127.0.0.1:${port}`,
    pendingFor: '10s',
  });
}

/** A user.created whose payload breaks the contract, straight into the consumer queue. */
async function publishPoisonMessage(): Promise<void> {
  const url = new URL(platform.broker.amqpUrl);
  url.pathname = `/${encodeURIComponent(platform.broker.vhost)}`;
  const connection = await amqp.connect(url.toString());
  try {
    const channel = await connection.createConfirmChannel();
    channel.sendToQueue(QUEUE, Buffer.from(JSON.stringify({ not: 'an envelope' })), {
      persistent: true,
      type: 'user.created',
      messageId: randomUUID(),
      contentType: 'application/json',
    });
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

interface BuiltPanel {
  title?: string;
  targets?: unknown[];
  panels?: BuiltPanel[];
}

const panelsOf = (dashboard: { panels?: unknown[] }): BuiltPanel[] =>
  ((dashboard.panels ?? []) as BuiltPanel[]).flatMap((panel) => [panel, ...(panel.panels ?? [])]);

/** Grafana's variable interpolation, for the variables the dashboards use. */
function substitute(expr: string, values: Record<string, string>): string {
  return expr
    .replace(/\$__rate_interval/g, '1m')
    .replace(/\$(\w+)/g, (all, name: string) => values[name] ?? all);
}

async function seriesOf(expr: string): Promise<number> {
  const body = await getJson<{ data: { result: unknown[] } }>(
    `${monitoring.prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`,
  );
  return body.data.result.length;
}

live('on-call in the local platform: dashboards and alerts', () => {
  beforeAll(async () => {
    platform = await startIsolatedPlatform('alerts');
    monitoring = await startMonitoring({
      name: platform.broker.vhost,
      resources: EXAMPLES,
      vhost: platform.broker.vhost,
      services: Object.values(platform.services),
      pendingFor: '10s',
    });
  }, 300_000);

  afterAll(async () => {
    operatorServer?.close();
    await monitoring?.stop();
    await platform?.dispose();
  }, 120_000);

  it('every query of every generated dashboard returns series under a little load', async () => {
    await serveOperatorMetrics();
    const users: string[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await http('POST', `${platform.services['user-service'].url}/users`, {
        email: `${randomUUID()}@example.com`,
        name: 'Ada Lovelace',
      });
      users.push(answer.body.id as string);
    }
    for (const userId of users.slice(0, 2)) {
      await http('POST', `${platform.services['order-service'].url}/orders`, {
        userId,
        items: [{ sku: 'BOOK-42', quantity: 1, unitPrice: 12.5 }],
      });
    }
    await publishPoisonMessage();

    const variables: Record<string, string> = {
      vhost: platform.broker.vhost,
      queue: QUEUE,
      job: 'warren-operator',
    };
    const services = ['user-service', 'order-service', 'notification-service'];
    const empty: string[] = [];
    for (const dashboard of buildDashboards()) {
      for (const panel of panelsOf(dashboard)) {
        for (const target of panel.targets ?? []) {
          const expr = (target as { expr: string }).expr;
          // A service panel counts when it has series for one of the services (not every
          // service publishes, consumes or fails).
          const candidates = expr.includes('$service')
            ? services.map((service) => substitute(expr, { ...variables, service }))
            : [substitute(expr, variables)];
          const found = await eventually(
            `series for ${dashboard.uid} / ${panel.title}`,
            async () => {
              for (const candidate of candidates) if ((await seriesOf(candidate)) > 0) return true;
              return undefined;
            },
            60_000,
            2_000,
          ).catch(() => false);
          if (!found) empty.push(`${dashboard.uid} / ${panel.title}: ${candidates[0]}`);
        }
      }
    }
    expect(empty).toEqual([]);
  }, 400_000);

  it('goes inactive -> pending -> firing -> resolved, and the receiver logs both ends', async () => {
    await eventually(
      'the route rules to be loaded and inactive',
      async () => ((await ruleState()) === 'inactive' ? true : undefined),
      90_000,
      1_000,
    );
    // The services are scraped too (the dashboards and the operator alerts rely on it).
    const scraped = async () => {
      const targets = await getJson<{
        data: { activeTargets: { labels: Record<string, string>; health: string }[] };
      }>(`${monitoring.prometheusUrl}/api/v1/targets?state=active`);
      return targets.data.activeTargets
        .filter(
          (t) =>
            t.labels.platform === platform.broker.vhost &&
            t.labels.job === 'warren-services' &&
            t.health === 'up',
        )
        .map((t) => t.labels.service)
        .sort();
    };
    await eventually(
      'the three services to be scraped',
      async () => ((await scraped()).length === 3 ? true : undefined),
      60_000,
      1_000,
    );
    expect(await scraped()).toEqual(['notification-service', 'order-service', 'user-service']);

    await platform.services['notification-service'].stop();
    const answer = await http('POST', `${platform.services['user-service'].url}/users`, {
      email: `${randomUUID()}@example.com`,
      name: 'Ada Lovelace',
    });
    expect(answer.status).toBe(201);

    const pending = await eventually(
      'the alert to be pending',
      async () => {
        const alert = await prometheusAlert();
        return alert?.state === 'pending' ? alert : undefined;
      },
      90_000,
      1_000,
    );
    expect(pending.labels).toMatchObject({ queue: QUEUE, severity: 'critical' });
    await eventually(
      'the alert to fire',
      async () => ((await prometheusAlert())?.state === 'firing' ? true : undefined),
      90_000,
      1_000,
    );
    await eventually(
      'Alertmanager to hold it, active',
      async () => ((await alertmanagerAlert())?.status.state === 'active' ? true : undefined),
      90_000,
      1_000,
    );
    const [fired] = await eventually(
      'the receiver to log FIRING',
      async () => (logLines('FIRING').length > 0 ? logLines('FIRING') : undefined),
      90_000,
      1_000,
    );
    expect(fired).toContain(`Queue ${QUEUE} has messages and no consumer`);

    platform.services['notification-service'].start();
    await platform.services['notification-service'].waitReady();
    await eventually(
      'the alert to leave Prometheus',
      async () =>
        (await prometheusAlert()) === undefined && (await ruleState()) === 'inactive'
          ? true
          : undefined,
      90_000,
      1_000,
    );
    await eventually(
      'the receiver to log RESOLVED',
      async () => (logLines('RESOLVED').length > 0 ? true : undefined),
      90_000,
      1_000,
    );
  }, 400_000);
});
