/**
 * The event catalogue per namespace: a ConfigMap `warren-asyncapi` (key `asyncapi.yaml`) in each
 * namespace with routes, holding the AsyncAPI document of that namespace's routes (the same as
 * `warren asyncapi` prints); removed when the namespace has no route left. A document over
 * CATALOGUE_INLINE_BYTES (some hundreds of routes in one namespace) is stored gzipped instead, in
 * `binaryData` key `asyncapi.yaml.gz`: a ConfigMap holds at most 1 MiB, and YAML shrinks about
 * tenfold. Decide is pure (`catalogueConfigMaps`); the controller writes what differs.
 */
import { createHash } from 'node:crypto';
import type { ServiceTopology } from '@warren/contracts';
import { gunzipSync, gzipSync } from 'node:zlib';
import { toYaml } from '../util/yaml-text';
import { asyncApiDocument, servicesOfNamespace } from '../engine/asyncapi';
import { KubeApiError, type KubeClient, type KubeObject } from '../kube/client';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from './annotations';
import { corePath } from './resources';

export const CATALOGUE_CONFIGMAP = 'warren-asyncapi';
export const CATALOGUE_KEY = 'asyncapi.yaml';
export const CATALOGUE_GZIP_KEY = 'asyncapi.yaml.gz';
/** Larger documents go gzipped into binaryData (well below the 1 MiB a ConfigMap may hold). */
export const CATALOGUE_INLINE_BYTES = 512 * 1024;

/** What a catalogue ConfigMap holds: the YAML itself, or (when large) the YAML gzipped. */
export interface CatalogueContent {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export function catalogueContent(yaml: string): CatalogueContent {
  return Buffer.byteLength(yaml) <= CATALOGUE_INLINE_BYTES
    ? { data: { [CATALOGUE_KEY]: yaml } }
    : { binaryData: { [CATALOGUE_GZIP_KEY]: gzipSync(yaml, { level: 9 }).toString('base64') } };
}

/** The document of a catalogue ConfigMap, whichever way it is stored. */
export function catalogueText(configMap: CatalogueContent): string | undefined {
  const zipped = configMap.binaryData?.[CATALOGUE_GZIP_KEY];
  return zipped === undefined
    ? configMap.data?.[CATALOGUE_KEY]
    : gunzipSync(Buffer.from(zipped, 'base64')).toString('utf8');
}
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
        ...catalogueContent(toYaml(document)),
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
    existing: readonly (KubeObject & CatalogueContent)[],
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

/** Compared as stored (gzip at a fixed level gives the same bytes for the same text). */
const stored = (c: CatalogueContent | undefined) =>
  JSON.stringify([c?.data?.[CATALOGUE_KEY], c?.binaryData?.[CATALOGUE_GZIP_KEY]]);

async function writeCatalogues(
  client: KubeClient,
  wanted: ReturnType<typeof catalogueConfigMaps>,
  existing: readonly (KubeObject & CatalogueContent)[],
): Promise<void> {
  const current = existing.filter((c) => c.metadata.labels?.[COMPONENT_LABEL] === COMPONENT);
  for (const configMap of wanted) {
    const { namespace, name } = configMap.metadata;
    const found = current.find((c) => c.metadata.namespace === namespace);
    if (stored(found) !== stored(configMap))
      await client.apply(corePath(namespace, 'configmaps', name), configMap, 'warren-operator');
  }
  for (const stale of current.filter(
    (c) => !wanted.some((w) => w.metadata.namespace === c.metadata.namespace),
  ))
    await client.remove(
      corePath(stale.metadata.namespace ?? 'default', 'configmaps', stale.metadata.name),
    );
}
