/**
 * An alert's whole life in the local platform, through the real Prometheus and Alertmanager:
 * the route rules `npm start` loads (the operator's generator) with `for:` shortened to 10s for
 * the test only. notification-service stops, a user registers, its welcome event waits in a
 * queue nobody consumes: WarrenQueueWithoutConsumers goes inactive -> pending -> firing, reaches
 * Alertmanager and the receiver's log; the service comes back, drains the queue, the alert
 * resolves and the log says so. Takes about a minute (scrape and evaluation every 5 s).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { ALERT_NAMES } from '@warren/operator';
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

live('an alert in the local platform, through Prometheus and Alertmanager', () => {
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
    await monitoring?.stop();
    await platform?.dispose();
  }, 120_000);

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
        .filter((t) => t.labels.platform === platform.broker.vhost && t.health === 'up')
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
