/**
 * The chart's alerts on the operator itself: rendered by helm, valid for Prometheus (promtool
 * check rules), firing on synthetic series exactly as documented (promtool test rules), and
 * written against metric names the operator really exports.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { ensureKubeBinaries, repoRoot } from '@warren/testing';
import { OPERATOR_ALERTS_TEMPLATE, operatorAlertsTemplate } from '../src/alerts/chart-template';
import { createOperatorMetrics } from '../src/observability/metrics';
import { renderChart } from './support/chart';

interface Rule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const NAMESPACE = 'shop';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-operator-alerts-'));
let rules: Rule[];
let rulesFile: string;

beforeAll(async () => {
  const { helm } = await ensureKubeBinaries();
  const docs = await renderChart(helm, NAMESPACE, ['--api-versions', 'monitoring.coreos.com/v1']);
  const { groups } = docs.find((doc) => doc.kind === 'PrometheusRule')!.spec as {
    groups: { rules: Rule[] }[];
  };
  rules = groups[0]!.rules;
  rulesFile = path.join(dir, 'operator-rules.yml');
  fs.writeFileSync(rulesFile, stringify({ groups }));
});

const alertsOf = (alert: string, labels: Record<string, string>) => {
  const rule = rules.find((r) => r.alert === alert)!;
  const annotations = Object.fromEntries(
    Object.entries(rule.annotations).map(([key, value]) => [
      key,
      value.replace('{{ $labels.kind }}', labels.kind ?? ''),
    ]),
  );
  return [{ exp_labels: { ...rule.labels, ...labels }, exp_annotations: annotations }];
};

it('is generated from operator-rules.ts (run `npm run generate -w @warren/operator`)', () => {
  const committed = fs.readFileSync(path.join(repoRoot, OPERATOR_ALERTS_TEMPLATE), 'utf8');
  expect(committed).toBe(operatorAlertsTemplate());
});

it('renders three rules that pass promtool check rules, on metrics the operator exports', () => {
  expect(rules.map((r) => r.alert)).toEqual([
    'WarrenOperatorNoLeader',
    'WarrenReconcileFailing',
    'WarrenMigrationJobFailed',
  ]);
  expect(execFileSync('promtool', ['check', 'rules', rulesFile]).toString()).toContain(
    'SUCCESS: 3 rules found',
  );
  const exported = new Set(
    createOperatorMetrics()
      .registry.getMetricsAsArray()
      .map((metric) => metric.name),
  );
  for (const rule of rules) {
    for (const name of rule.expr.match(/warren_[a-z_]+/g) ?? []) expect(exported).toContain(name);
    expect(rule.expr).toContain(`namespace="${NAMESPACE}"`);
  }
});

it('fire on synthetic series exactly when documented (promtool test rules)', () => {
  const sel = `namespace="${NAMESPACE}"`;
  const test = {
    rule_files: [rulesFile],
    evaluation_interval: '1m',
    tests: [
      {
        // The leader steps down at 2m: pending from 2m, firing 2m later.
        interval: '1m',
        input_series: [{ series: `warren_leader{${sel},pod="a"}`, values: '1 1 0 0 0 0 0' }],
        alert_rule_test: [
          { eval_time: '3m', alertname: 'WarrenOperatorNoLeader', exp_alerts: [] },
          {
            eval_time: '5m',
            alertname: 'WarrenOperatorNoLeader',
            exp_alerts: alertsOf('WarrenOperatorNoLeader', {}),
          },
        ],
      },
      {
        // Not scraped at all (the only series is another release's): no leader either.
        interval: '1m',
        input_series: [{ series: 'warren_leader{namespace="elsewhere"}', values: '1x10' }],
        alert_rule_test: [
          {
            eval_time: '3m',
            alertname: 'WarrenOperatorNoLeader',
            exp_alerts: alertsOf('WarrenOperatorNoLeader', {}),
          },
        ],
      },
      {
        // EventRoute reconciles only fail; DatabaseMigration ones fail sometimes but also succeed.
        interval: '1m',
        input_series: [
          {
            series: `warren_reconcile_total{${sel},kind="EventRoute",result="error"}`,
            values: '0+1x30',
          },
          {
            series: `warren_reconcile_total{${sel},kind="EventRoute",result="success"}`,
            values: '7x30',
          },
          {
            series: `warren_reconcile_total{${sel},kind="DatabaseMigration",result="error"}`,
            values: '0+1x30',
          },
          {
            series: `warren_reconcile_total{${sel},kind="DatabaseMigration",result="success"}`,
            values: '0+1x30',
          },
          { series: `warren_leader{${sel}}`, values: '1x30' },
        ],
        alert_rule_test: [
          { eval_time: '3m', alertname: 'WarrenReconcileFailing', exp_alerts: [] },
          {
            eval_time: '20m',
            alertname: 'WarrenReconcileFailing',
            exp_alerts: alertsOf('WarrenReconcileFailing', { kind: 'EventRoute' }),
          },
          { eval_time: '20m', alertname: 'WarrenOperatorNoLeader', exp_alerts: [] },
        ],
      },
      {
        interval: '1m',
        input_series: [
          { series: `warren_migration_runs_total{${sel},result="failed"}`, values: '0 0 1 1 1' },
          { series: `warren_migration_runs_total{${sel},result="succeeded"}`, values: '0+1x4' },
        ],
        alert_rule_test: [
          { eval_time: '1m', alertname: 'WarrenMigrationJobFailed', exp_alerts: [] },
          {
            eval_time: '3m',
            alertname: 'WarrenMigrationJobFailed',
            exp_alerts: alertsOf('WarrenMigrationJobFailed', {}),
          },
        ],
      },
    ],
  };
  const testFile = path.join(dir, 'operator-rules.test.yml');
  fs.writeFileSync(testFile, stringify(test));
  expect(execFileSync('promtool', ['test', 'rules', testFile]).toString()).toContain('SUCCESS');
});
