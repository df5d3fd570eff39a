/**
 * Alerts on Warren itself, from one source: the chart's PrometheusRule template
 * (charts/warren/templates/operator-alerts.yaml, generated from this file by
 * `npm run generate -w @warren/operator`) and the rule file `npm start` loads when an operator
 * is scraped. The per-route alerts are in rules.ts.
 */
import type { AlertRule, RuleGroup } from './rules';

export const OPERATOR_ALERT_NAMES = {
  noLeader: 'WarrenOperatorNoLeader',
  reconcileFailing: 'WarrenReconcileFailing',
  migrationJobFailed: 'WarrenMigrationJobFailed',
} as const;

/** Where the rules are used: plain values for a rule file, Helm expressions for the chart. */
export interface OperatorRuleContext {
  /** PromQL label matchers selecting the operator's series, e.g. `namespace="shop"`. */
  matchers: string;
  /** Where the operator runs, for the texts (`shop`). */
  namespace: string;
  /** How on-call reads the operator's log. */
  logsCommand: string;
  /** Protects a Prometheus template (`{{ $labels.kind }}`) in a text; identity in a rule file. */
  promTemplate: (text: string) => string;
}

export function operatorRuleGroup(context: OperatorRuleContext): RuleGroup {
  const select = (...extra: string[]) => `{ ${[context.matchers, ...extra].join(', ')} }`;
  const t = context.promTemplate;
  const rules: AlertRule[] = [
    {
      alert: OPERATOR_ALERT_NAMES.noLeader,
      // No series at all (operator down or not scraped) counts as no leader.
      expr: `(max(warren_leader${select()}) or vector(0)) < 1`,
      for: '2m',
      labels: { severity: 'critical' },
      annotations: {
        summary: `No Warren operator replica holds the Lease in ${context.namespace}`,
        description: `Routes, retry policies and migrations are not reconciled and drift is not repaired. Check the operator pods and their logs (${context.logsCommand}).`,
      },
    },
    {
      alert: OPERATOR_ALERT_NAMES.reconcileFailing,
      expr:
        `sum by (kind) (increase(warren_reconcile_total${select('result="error"')}[15m])) > 0` +
        ` unless sum by (kind) (increase(warren_reconcile_total${select('result="success"')}[15m])) > 0`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: t('Every {{ $labels.kind }} reconcile failed for 15 minutes'),
        description:
          'The operator retries with backoff; its warn log lines ("reconcile failed; backing off") name the cause, e.g. the broker\'s management API unreachable.',
      },
    },
    {
      alert: OPERATOR_ALERT_NAMES.migrationJobFailed,
      expr: `sum(increase(warren_migration_runs_total${select('result="failed"')}[30m])) > 0`,
      for: '0m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'A DatabaseMigration Job failed in the last 30 minutes',
        description:
          "kubectl get databasemigrations -A shows which; its Ready condition and JobFailed Event carry the end of Prisma's output. Pods of that service wait for the migration.",
      },
    },
  ];
  return { name: 'warren-operator', rules };
}
