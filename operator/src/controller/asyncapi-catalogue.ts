/**
 * The event catalogue per namespace: a ConfigMap `warren-asyncapi` (key `asyncapi.yaml`) in each
 * namespace with routes, holding the AsyncAPI document of that namespace's routes (the same as
 * `warren asyncapi` prints); removed when the namespace has no route left. Decide is pure
 * (`catalogueConfigMaps`); the controller writes what differs.
 */
import { createHash } from 'node:crypto';
import type { ServiceTopology } from '@warren/contracts';
import { stringify } from 'yaml';
import { asyncApiDocument, servicesOfNamespace } from '../engine/asyncapi';
import { KubeApiError, type KubeClient, type KubeObject } from '../kube/client';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from './annotations';
import { corePath } from './resources';

export const CATALOGUE_CONFIGMAP = 'warren-asyncapi';
export const CATALOGUE_KEY = 'asyncapi.yaml';
const COMPONENT = 'asyncapi';

export function catalogueConfigMaps(
  namespaces: Iterable<string>,
  services: readonly ServiceTopology[],
  queues: Parameters<typeof asyncApiDocument>[0]['queues'],
  brokerUrl: string,
) {
  return [...new Set(namespaces)].sort().flatMap((namespace) => {
    const scoped = servicesOfNamespace(services, namespace);
    if (scoped.length === 0) return [];
    const document = asyncApiDocument(
      { services: scoped, queues },
      { brokerUrl, title: `Warren events in namespace ${namespace}` },
    );
    return [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: CATALOGUE_CONFIGMAP,
          namespace,
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: COMPONENT },
        },
        data: { [CATALOGUE_KEY]: stringify(document) },
      },
    ];
  });
}

/**
 * Writes the catalogues that changed and deletes the ones of namespaces without routes. The
 * documents are rebuilt only when the compiled service documents changed (or a ConfigMap did).
 */
export class CatalogueWriter {
  private lastInput = '';
  constructor(private readonly client: KubeClient) {}

  async write(
    input: Parameters<typeof catalogueConfigMaps>,
    existing: readonly (KubeObject & { data?: Record<string, string> })[],
  ): Promise<void> {
    // A digest, not the text: at some hundreds of routes the input is megabytes to keep.
    const key = createHash('sha256')
      .update(
        JSON.stringify([
          input,
          existing.map((c) => [c.metadata.namespace, c.metadata.name, c.metadata.resourceVersion]),
        ]),
      )
      .digest('base64');
    if (key === this.lastInput) return;
    try {
      await writeCatalogues(this.client, catalogueConfigMaps(...input), existing);
    } catch (error) {
      // Refused as invalid (too large): building it again is pointless until the input changes.
      if (error instanceof KubeApiError && error.status === 422) this.lastInput = key;
      throw error;
    }
    this.lastInput = key;
  }
}

async function writeCatalogues(
  client: KubeClient,
  wanted: ReturnType<typeof catalogueConfigMaps>,
  existing: readonly (KubeObject & { data?: Record<string, string> })[],
): Promise<void> {
  const current = existing.filter((c) => c.metadata.labels?.[COMPONENT_LABEL] === COMPONENT);
  for (const configMap of wanted) {
    const { namespace, name } = configMap.metadata;
    const found = current.find((c) => c.metadata.namespace === namespace);
    if (found?.data?.[CATALOGUE_KEY] !== configMap.data[CATALOGUE_KEY])
      await client.apply(corePath(namespace, 'configmaps', name), configMap, 'warren-operator');
  }
  for (const stale of current.filter(
    (c) => !wanted.some((w) => w.metadata.namespace === c.metadata.namespace),
  ))
    await client.remove(
      corePath(stale.metadata.namespace ?? 'default', 'configmaps', stale.metadata.name),
    );
}
