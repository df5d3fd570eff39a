/**
 * What each service gets in each namespace where a route names it: a ConfigMap with its
 * topology document (what the messaging module reads) and a Secret with its own broker user.
 * Pure: desired objects from the compiled topology; the controller writes what differs.
 */
import type { ServiceTopology } from '@warren/contracts';
import type { EventRoute } from '@warren/crds';
import { MANAGED_BY, MANAGED_BY_LABEL, SERVICE_LABEL } from './annotations';

export const topologyConfigMapName = (service: string) => `warren-topology-${service}`;
export const credentialsSecretName = (service: string) => `warren-broker-${service}`;
export const VHOST_ANNOTATION = 'warren.dev/vhost';
export const BROKER_USER_ANNOTATION = 'warren.dev/broker-user';

export interface ServicePlacement {
  namespace: string;
  document: ServiceTopology;
}

/** Each (namespace, service document) pair: a service's objects go where its routes are. */
export function servicePlacements(
  routes: readonly EventRoute[],
  documents: readonly ServiceTopology[],
  vhostOf: (route: EventRoute) => string,
): ServicePlacement[] {
  const wanted = new Set<string>();
  for (const route of routes) {
    const vhost = vhostOf(route);
    for (const service of [route.spec.source.service, route.spec.consumer.service]) {
      wanted.add(`${route.metadata.namespace ?? 'default'}\u0000${vhost}\u0000${service}`);
    }
  }
  const placements: ServicePlacement[] = [];
  for (const key of wanted) {
    const [namespace, vhost, service] = key.split('\u0000') as [string, string, string];
    const document = documents.find((d) => d.vhost === vhost && d.service === service);
    if (document) placements.push({ namespace, document });
  }
  return placements.sort((a, b) =>
    `${a.namespace}/${a.document.service}`.localeCompare(`${b.namespace}/${b.document.service}`),
  );
}

const labels = (service: string) => ({ [MANAGED_BY_LABEL]: MANAGED_BY, [SERVICE_LABEL]: service });

export function topologyConfigMap(placement: ServicePlacement) {
  const { namespace, document } = placement;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: topologyConfigMapName(document.service),
      namespace,
      labels: labels(document.service),
      annotations: { [VHOST_ANNOTATION]: document.vhost },
    },
    data: { 'topology.json': `${JSON.stringify(document, null, 2)}\n` },
  };
}

/** The Secret a service mounts: its user, password and ready-made AMQP URL (vhost included). */
export function credentialsSecret(
  placement: ServicePlacement,
  credentials: { user: string; password: string },
  brokerAmqpUrl: string,
) {
  const { namespace, document } = placement;
  const url = new URL(brokerAmqpUrl);
  url.username = encodeURIComponent(credentials.user);
  url.password = encodeURIComponent(credentials.password);
  url.pathname = `/${encodeURIComponent(document.vhost)}`;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: credentialsSecretName(document.service),
      namespace,
      labels: labels(document.service),
      annotations: {
        [VHOST_ANNOTATION]: document.vhost,
        [BROKER_USER_ANNOTATION]: credentials.user,
      },
    },
    stringData: {
      username: credentials.user,
      password: credentials.password,
      vhost: document.vhost,
      url: url.toString(),
    },
  };
}
