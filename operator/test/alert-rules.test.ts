/**
 * The generated alert rules are valid for Prometheus (promtool), behave as intended on
 * synthetic series (promtool test rules), and match the real broker's metrics: a real
 * Prometheus scraping the real RabbitMQ puts the depth alert into pending.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as amqp from 'amqplib';
import { stringify } from 'yaml';
import { createTestVhost, loadInfraConfig, localServerUrls } from '@warren/testing';
import { ALERT_NAMES, routeRuleGroup, type RouteAlertInput } from '../src/alerts/rules';

const input = (overrides: Partial<RouteAlertInput> = {}): RouteAlertInput => ({
  namespace: 'shop',
  route: 'order-created',
  consumerService: 'user-service',
  vhost: '/',
  queue: 'user-service.order-created',
  deadLetterQueue: 'user-service.order-created.dlq',
  retryQueues: [
    'user-service.order-created.retry.1000ms',
    'user-service.order-created.retry.2000ms',
  ],
  thresholds: { queueDepth: 100, oldestMessageAgeSeconds: 300, deadLetterDepth: 1 },
  ...overrides,
});

function writeRules(dir: string, groups: unknown[]): string {
  const file = path.join(dir, 'rules.yml');
  fs.writeFileSync(file, stringify({ groups }));
  return file;
}

describe('route alert rules', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-rules-'));

  it('pass promtool check rules, with every rule labelled by route and service', () => {
    const group = routeRuleGroup(input());
    expect(group.rules.map((rule) => rule.alert)).toEqual(Object.values(ALERT_NAMES));
    for (const rule of group.rules) {
      expect(rule.labels).toMatchObject({
        warren_route: 'order-created',
        service: 'user-service',
        warren_namespace: 'shop',
      });
    }
    const file = writeRules(dir, [group]);
    expect(execFileSync('promtool', ['check', 'rules', file]).toString()).toContain(
      `SUCCESS: ${group.rules.length} rules found`,
    );
  });

  it('leave out dead-letter and retry alerts when the route has neither', () => {
    const group = routeRuleGroup(input({ deadLetterQueue: null, retryQueues: [] }));
    expect(group.rules.map((rule) => rule.alert)).toEqual([
      ALERT_NAMES.queueDepth,
      ALERT_NAMES.messageAge,
      ALERT_NAMES.noConsumers,
    ]);
  });

  it('fire on synthetic series exactly when thresholds are crossed (promtool test rules)', () => {
    const rulesFile = writeRules(dir, [
      routeRuleGroup(
        input({ thresholds: { queueDepth: 10, oldestMessageAgeSeconds: 60, deadLetterDepth: 2 } }),
      ),
    ]);
    const q = 'vhost="/",queue="user-service.order-created"';
    const dlq = 'vhost="/",queue="user-service.order-created.dlq"';
    const test = {
      rule_files: [rulesFile],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: `rabbitmq_detailed_queue_messages{${q}}`, values: '5 20 20 20 20 20 20' },
            { series: `rabbitmq_detailed_queue_messages{${dlq}}`, values: '0 1 2 2 2 2 2' },
            { series: `rabbitmq_detailed_queue_consumers{${q}}`, values: '1 1 1 1 1 1 1' },
          ],
          alert_rule_test: [
            { eval_time: '0m', alertname: ALERT_NAMES.queueDepth, exp_alerts: [] },
            {
              eval_time: '4m',
              alertname: ALERT_NAMES.queueDepth,
              exp_alerts: [
                {
                  exp_labels: {
                    severity: 'warning',
                    warren_route: 'order-created',
                    warren_namespace: 'shop',
                    service: 'user-service',
                    vhost: '/',
                    queue: 'user-service.order-created',
                  },
                  exp_annotations: {
                    summary: 'Queue user-service.order-created holds more than 10 messages',
                    description:
                      '20 messages wait in queue user-service.order-created (vhost /) of EventRoute shop/order-created; user-service is not keeping up.',
                  },
                },
              ],
            },
            { eval_time: '1m', alertname: ALERT_NAMES.deadLetters, exp_alerts: [] },
            { eval_time: '2m', alertname: ALERT_NAMES.noConsumers, exp_alerts: [] },
          ],
        },
      ],
    };
    const testFile = path.join(dir, 'test.yml');
    fs.writeFileSync(testFile, stringify(test));
    expect(execFileSync('promtool', ['test', 'rules', testFile]).toString()).toContain('SUCCESS');
  });

  const local = localServerUrls(loadInfraConfig());
  const realPrometheus = process.env.PROMETHEUS_URL === local.PROMETHEUS_URL ? it : it.skip;

  realPrometheus(
    'match the real broker metrics: a real Prometheus puts the depth alert in pending',
    async () => {
      const vhost = await createTestVhost('alerts');
      const rulesDir = path.join(loadInfraConfig().stateDir, 'prometheus', 'rules');
      const ruleFile = path.join(rulesDir, `${vhost.vhost}.yml`);
      const connection = await amqp.connect(vhost.amqpUrl);
      try {
        const channel = await connection.createConfirmChannel();
        await channel.assertQueue('orders', { durable: true });
        for (let i = 0; i < 5; i++)
          channel.sendToQueue('orders', Buffer.from('{}'), { persistent: true });
        await channel.waitForConfirms();
        const group = routeRuleGroup(
          input({
            vhost: vhost.vhost,
            queue: 'orders',
            route: vhost.vhost,
            thresholds: { queueDepth: 3, oldestMessageAgeSeconds: 300, deadLetterDepth: 1 },
          }),
        );
        fs.writeFileSync(ruleFile, stringify({ groups: [group] }));
        const reload = await fetch(`${process.env.PROMETHEUS_URL}/-/reload`, { method: 'POST' });
        expect(reload.status).toBe(200);
        const deadline = Date.now() + 60_000;
        let alert: { labels: Record<string, string>; state: string } | undefined;
        while (!alert && Date.now() < deadline) {
          const response = await fetch(`${process.env.PROMETHEUS_URL}/api/v1/alerts`);
          const body = (await response.json()) as {
            data: { alerts: { labels: Record<string, string>; state: string }[] };
          };
          alert = body.data.alerts.find(
            (a) =>
              a.labels.alertname === ALERT_NAMES.queueDepth &&
              a.labels.warren_route === vhost.vhost,
          );
          if (!alert) await new Promise((resolve) => setTimeout(resolve, 1000));
        }
        expect(alert).toMatchObject({
          state: 'pending',
          labels: { queue: 'orders', severity: 'warning' },
        });
      } finally {
        await connection.close();
        fs.rmSync(ruleFile, { force: true });
        await fetch(`${process.env.PROMETHEUS_URL}/-/reload`, { method: 'POST' }).catch(
          () => undefined,
        );
        await vhost.dispose();
      }
    },
    90_000,
  );
});
