/** Test resources, validated and defaulted exactly as `warren` and the API server would. */
import { resolve } from 'node:path';
import type { EventRoute, RetryPolicy, WarrenResource } from '@warren/crds';
import { validateResource } from '@warren/crds';
import { loadResources, retryPoliciesOf, routesOf } from '../src/cli/load';
import type { BrokerState, DesiredTopology } from '../src/engine/model';

export const EXAMPLES = resolve(__dirname, '../../examples');

function valid<T extends WarrenResource>(document: unknown): T {
  const result = validateResource(document);
  if (result.outcome !== 'valid')
    throw new Error(`test resource is not valid: ${JSON.stringify(result)}`);
  return result.resource as T;
}

type RouteSpecInput = {
  exchange?: { name: string; type?: string };
  source?: { service: string };
  events?: string[];
  consumer?: Record<string, unknown>;
  [key: string]: unknown;
};

export function route(name: string, spec: RouteSpecInput = {}): EventRoute {
  return valid<EventRoute>({
    apiVersion: 'warren.dev/v1alpha1',
    kind: 'EventRoute',
    metadata: { name },
    spec: {
      exchange: { name: 'user.events' },
      source: { service: 'user-service' },
      events: ['user.created'],
      consumer: { service: 'notification-service' },
      ...spec,
    },
  });
}

export function retryPolicy(name: string, spec: Record<string, unknown> = {}): RetryPolicy {
  return valid<RetryPolicy>({
    apiVersion: 'warren.dev/v1alpha1',
    kind: 'RetryPolicy',
    metadata: { name },
    spec,
  });
}

export async function loadExamples(): Promise<{ routes: EventRoute[]; policies: RetryPolicy[] }> {
  const loaded = await loadResources(EXAMPLES);
  if (loaded.errors.length > 0) throw new Error(JSON.stringify(loaded.errors));
  return { routes: routesOf(loaded.resources), policies: retryPoliciesOf(loaded.resources) };
}

/** What the broker would report after applying `desired` exactly. */
export function asActual(desired: DesiredTopology): BrokerState {
  return structuredClone({
    vhosts: desired.vhosts,
    exchanges: desired.exchanges,
    queues: desired.queues,
    bindings: desired.bindings,
    policies: desired.policies,
    users: desired.users,
    permissions: desired.permissions,
  });
}
