/** Which service ConfigMaps and Secrets go: pure, from the routes left and the users the plan keeps. */
import type { EventRoute } from '@warren/crds';
import { MANAGED_BY, MANAGED_BY_LABEL, SERVICE_LABEL } from '../src/controller/annotations';
import {
  BROKER_USER_ANNOTATION,
  credentialsSecretName,
  staleServiceOutputs,
  topologyConfigMapName,
} from '../src/controller/service-outputs';
import { route } from './resources';

const inNamespace = (r: EventRoute, namespace: string): EventRoute => ({
  ...r,
  metadata: { ...r.metadata, namespace },
});
const output = (namespace: string, service: string, name: string, user?: string) => ({
  metadata: {
    name,
    namespace,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [SERVICE_LABEL]: service },
    ...(user && { annotations: { [BROKER_USER_ANNOTATION]: user } }),
  },
});
const configMap = (namespace: string, service: string) =>
  output(namespace, service, topologyConfigMapName(service));
const secret = (namespace: string, service: string) =>
  output(namespace, service, credentialsSecretName(service), `warren-${service}`);

describe('staleServiceOutputs', () => {
  const services = ['user-service', 'notification-service', 'order-service'];
  const everywhere = (make: typeof configMap) =>
    ['shop', 'billing'].flatMap((ns) => services.map((s) => make(ns, s)));

  it('removes the outputs of services no route in their namespace names, and only those', () => {
    // shop: user-service -> notification-service; billing: no route at all.
    const stale = staleServiceOutputs({
      routes: [inNamespace(route('r'), 'shop')],
      configMaps: everywhere(configMap),
      secrets: everywhere(secret),
      keptUsers: new Set(),
    });
    expect(stale.map((s) => `${s.plural} ${s.namespace}/${s.name}`).sort()).toEqual([
      'configmaps billing/warren-topology-notification-service',
      'configmaps billing/warren-topology-order-service',
      'configmaps billing/warren-topology-user-service',
      'configmaps shop/warren-topology-order-service',
      'secrets billing/warren-broker-notification-service',
      'secrets billing/warren-broker-order-service',
      'secrets billing/warren-broker-user-service',
      'secrets shop/warren-broker-order-service',
    ]);
  });

  it('keeps the Secret of a user the plan keeps (its retained queue holds messages), not its ConfigMap', () => {
    const stale = staleServiceOutputs({
      routes: [],
      configMaps: [configMap('shop', 'notification-service')],
      secrets: [secret('shop', 'notification-service')],
      keptUsers: new Set(['warren-notification-service']),
    });
    expect(stale).toEqual([
      {
        namespace: 'shop',
        plural: 'configmaps',
        name: 'warren-topology-notification-service',
      },
    ]);
  });

  it('leaves other objects with a service label alone (the KEDA scaler Secret, the catalogue)', () => {
    const stale = staleServiceOutputs({
      routes: [],
      configMaps: [{ metadata: { name: 'warren-asyncapi', namespace: 'shop' } }],
      secrets: [output('shop', 'keda.scaler', 'warren-keda-scaler')],
      keptUsers: new Set(),
    });
    expect(stale).toEqual([]);
  });
});
