/**
 * Each route's PrometheusRule (alerts/rules.ts builds it; the route owns it, so it goes with the
 * route). Written only when its body changed since this process last wrote it, and only when
 * the cluster serves the monitoring.coreos.com API.
 */
import type { EventRoute } from '@warren/crds';
import { API_VERSION, resourceKey } from '@warren/crds/core';
import { prometheusRuleFor, routeAlertInput } from '../alerts/rules';
import type { RouteObjects } from '../engine/model';
import type { KubeClient } from '../kube/client';

const MONITORING_API = '/apis/monitoring.coreos.com/v1';

export class PrometheusRuleWriter {
  private available = false;
  /** Last body written per route. */
  private readonly written = new Map<string, string>();

  constructor(
    private readonly client: KubeClient,
    private readonly fieldManager: string,
  ) {}

  /** Looks the API up once: without the Prometheus Operator's CRDs there is nothing to write. */
  async start(enabled: boolean): Promise<void> {
    this.available = enabled && (await this.client.find(MONITORING_API)) !== undefined;
  }

  async write(routes: readonly EventRoute[], compiled: readonly RouteObjects[]): Promise<void> {
    if (!this.available) return;
    const objects = new Map(compiled.map((owned) => [owned.route, owned]));
    for (const route of routes) {
      const owned = objects.get(resourceKey(route));
      if (!owned || !route.metadata.uid) continue;
      const rule = prometheusRuleFor(routeAlertInput(route, owned), {
        apiVersion: API_VERSION,
        kind: 'EventRoute',
        name: route.metadata.name,
        uid: route.metadata.uid,
      });
      const body = JSON.stringify(rule);
      const key = resourceKey(route);
      if (this.written.get(key) === body) continue;
      await this.client.apply(
        `${MONITORING_API}/namespaces/${rule.metadata.namespace}/prometheusrules/${rule.metadata.name}`,
        rule,
        this.fieldManager,
      );
      this.written.set(key, body);
    }
  }
}
