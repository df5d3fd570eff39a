/**
 * What a running operator needs of the resources: the API version, resource keys and the
 * duration format. Without the validators (ajv, CEL) that `warren lint` and the tests load from
 * the package's main entry, so the operator process does not carry them.
 */
export { API_VERSION, GROUP, VERSION } from './schema/crd';
export { parseDuration, formatDuration } from './duration';

/** `namespace/name`, how resources are named in messages and in topology documents. */
export function resourceKey(resource: { metadata: { name: string; namespace?: string } }): string {
  return `${resource.metadata.namespace ?? 'default'}/${resource.metadata.name}`;
}
