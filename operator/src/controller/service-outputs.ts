/**
 * What each service gets in each namespace where a route names it: a ConfigMap with its
 * topology document (what the messaging module reads) and a Secret with its own broker user.
 * Pure: desired objects from the compiled topology; the controller writes what differs.
 */
import type { ServiceTopology } from '@warren/contracts';
import type { EventRoute } from '@warren/crds';
import { serviceUserName } from '../engine/naming';
import { MANAGED_BY, MANAGED_BY_LABEL, SERVICE_LABEL } from './annotations';
import { compositeKey, keyParts } from '../util/keys';
import { byCodePoint } from '../util/order';

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
      wanted.add(compositeKey(route.metadata.namespace ?? 'default', vhost, service));
    }
  }
  const placements: ServicePlacement[] = [];
  for (const key of wanted) {
    const [namespace, vhost, service] = keyParts(key) as [string, string, string];
    const document = documents.find((d) => d.vhost === vhost && d.service === service);
    if (document) placements.push({ namespace, document });
  }
  return placements.sort((a, b) =>
    byCodePoint(`${a.namespace}/${a.document.service}`, `${b.namespace}/${b.document.service}`),
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

/** What the cache holds of an object the operator wrote before. */
interface Written {
  metadata: { name: string; namespace?: string };
  data?: { [key: string]: string };
}

export interface OutputWrite {
  namespace: string;
  plural: 'configmaps' | 'secrets';
  name: string;
  body: ReturnType<typeof topologyConfigMap> | ReturnType<typeof credentialsSecret>;
}

const base64 = (text: string) => Buffer.from(text).toString('base64');
const cacheKey = (namespace: string | undefined, name: string) => `${namespace}/${name}`;

/**
 * The ConfigMaps and Secrets that differ from what the cache shows. A service whose user has
 * no known password (being created on a broker that refused it, say) gets no Secret yet.
 */
export function serviceOutputWrites(options: {
  placements: readonly ServicePlacement[];
  passwords: ReadonlyMap<string, string>;
  configMaps: readonly Written[];
  secrets: readonly Written[];
  brokerAmqpUrl: string;
}): OutputWrite[] {
  const index = (objects: readonly Written[]) =>
    new Map(objects.map((o) => [cacheKey(o.metadata.namespace, o.metadata.name), o]));
  const configMaps = index(options.configMaps);
  const secrets = index(options.secrets);
  const writes: OutputWrite[] = [];
  for (const placement of options.placements) {
    const { namespace, document } = placement;
    const configMap = topologyConfigMap(placement);
    const name = configMap.metadata.name;
    const current = configMaps.get(cacheKey(namespace, name));
    if (current?.data?.['topology.json'] !== configMap.data['topology.json'])
      writes.push({ namespace, plural: 'configmaps', name, body: configMap });

    const user = serviceUserName(document.service, document.vhost);
    const password = options.passwords.get(user);
    if (password === undefined) continue;
    const secret = credentialsSecret(placement, { user, password }, options.brokerAmqpUrl);
    const existing = secrets.get(cacheKey(namespace, secret.metadata.name));
    const same =
      existing?.data?.password === base64(password) &&
      existing?.data?.url === base64(secret.stringData.url);
    if (!same)
      writes.push({ namespace, plural: 'secrets', name: secret.metadata.name, body: secret });
  }
  return writes;
}

export interface OutputDelete {
  namespace: string;
  plural: 'configmaps' | 'secrets';
  name: string;
}

interface Labelled extends Written {
  metadata: Written['metadata'] & {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
}

/**
 * The ConfigMaps and Secrets of services that no route in their namespace names any more (a
 * route being deleted still names its services). A Secret stays while the plan keeps its broker
 * user (`keptUsers`: a retained queue of the service still holds messages), so the service can
 * still drain it; the KEDA scaler's Secrets and the AsyncAPI catalogue are not service outputs.
 */
export function staleServiceOutputs(options: {
  routes: readonly EventRoute[];
  configMaps: readonly Labelled[];
  secrets: readonly Labelled[];
  keptUsers: ReadonlySet<string>;
}): OutputDelete[] {
  const named = new Set<string>();
  for (const route of options.routes) {
    const namespace = route.metadata.namespace ?? 'default';
    for (const service of [route.spec.source.service, route.spec.consumer.service])
      named.add(cacheKey(namespace, service));
  }
  const stale = (
    objects: readonly Labelled[],
    plural: OutputDelete['plural'],
    nameOf: (service: string) => string,
  ) =>
    objects.flatMap((object): OutputDelete[] => {
      const service = object.metadata.labels?.[SERVICE_LABEL];
      const namespace = object.metadata.namespace ?? 'default';
      if (service === undefined || object.metadata.name !== nameOf(service)) return [];
      if (named.has(cacheKey(namespace, service))) return [];
      const user = object.metadata.annotations?.[BROKER_USER_ANNOTATION];
      if (plural === 'secrets' && user !== undefined && options.keptUsers.has(user)) return [];
      return [{ namespace, plural, name: object.metadata.name }];
    });
  return [
    ...stale(options.configMaps, 'configmaps', topologyConfigMapName),
    ...stale(options.secrets, 'secrets', credentialsSecretName),
  ];
}

/** Passwords of service users, from the Secrets the operator wrote before. */
export function passwordsOf(
  secrets: readonly (Written & { metadata: { annotations?: Record<string, string> } })[],
): Map<string, string> {
  const passwords = new Map<string, string>();
  for (const secret of secrets) {
    const user = secret.metadata.annotations?.[BROKER_USER_ANNOTATION];
    const password = secret.data?.password;
    if (user && password) passwords.set(user, Buffer.from(password, 'base64').toString('utf8'));
  }
  return passwords;
}
