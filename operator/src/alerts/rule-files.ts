/**
 * Prometheus rule files (`{ groups: [...] }`) for a Prometheus without the Prometheus Operator,
 * as `npm start` runs one: the same groups the operator writes into PrometheusRules, compiled
 * from resource files.
 */
import { stringify } from 'yaml';
import { compile } from '../engine/compile';
import { loadResources, retryPoliciesOf, routesOf, type LoadedResources } from '../cli/load';
import { operatorRuleGroup } from './operator-rules';
import { routeAlertInput, routeRuleGroup, type RouteAlertInput, type RuleOptions } from './rules';

export const ruleFileYaml = (groups: unknown[]): string => stringify({ groups }, { lineWidth: 0 });

/** The alert inputs of every EventRoute under `path` (a file or folder), compiled as `warren apply` does. */
export async function routeAlertInputs(
  path: string,
  defaultVhost: string,
): Promise<RouteAlertInput[]> {
  return alertInputsOf(await loadResources([path]), path, defaultVhost);
}

/** The alert inputs of loaded resources (`source` names them in errors). */
export function alertInputsOf(
  loaded: LoadedResources,
  source: string,
  defaultVhost: string,
): RouteAlertInput[] {
  if (loaded.errors.length > 0) {
    const first = loaded.errors[0]!;
    throw new Error(
      `${loaded.errors.length} invalid resources in ${source}; first: ${first.file}: ${first.resource} ${first.field}: ${first.message}`,
    );
  }
  const routes = routesOf(loaded.resources);
  const desired = compile(routes, retryPoliciesOf(loaded.resources), { defaultVhost });
  return routes.map((route) => {
    const key = `${route.metadata.namespace ?? 'default'}/${route.metadata.name}`;
    const owned = desired.routes.find((objects) => objects.route === key);
    if (!owned) throw new Error(`EventRoute ${key} compiled to no broker objects`);
    return routeAlertInput(route, owned);
  });
}

/** The per-route rule file of the resources under `path`. */
export async function routeRuleFile(
  path: string,
  defaultVhost: string,
  options: RuleOptions = {},
): Promise<string> {
  const inputs = await routeAlertInputs(path, defaultVhost);
  return ruleFileYaml(inputs.map((input) => routeRuleGroup(input, options)));
}

/** The operator's own rules, selecting its series by `matchers` (e.g. `job="warren-operator"`). */
export function operatorRuleFile(matchers: string): string {
  return ruleFileYaml([
    operatorRuleGroup({
      matchers,
      namespace: 'this platform',
      logsCommand: "the operator's log",
      promTemplate: (text) => text,
    }),
  ]);
}
