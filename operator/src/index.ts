/**
 * The engine as a library (the package entry in package.json): the `warren` commands with their
 * exit codes, and the broker names other components need to agree on.
 */
export { run as runWarren } from './cli/main';
export type { Output } from './cli/commands';
export { serviceUserName, DEFAULT_VHOST } from './engine/naming';
export {
  routeAlertInputs,
  routeRuleFile,
  operatorRuleFile,
  ruleFileYaml,
} from './alerts/rule-files';
export { ALERT_NAMES, routeRuleGroup, type RouteAlertInput, type RuleGroup } from './alerts/rules';
export { OPERATOR_ALERT_NAMES } from './alerts/operator-rules';
export { dashboardFiles } from './dashboards/files';
export { buildDashboards, type GrafanaDashboard } from './dashboards/build';
export { DASHBOARDS, type DashboardSpec } from './dashboards/model';
export { createOperatorMetrics } from './observability/metrics';
