export * from './schema';
export * from './types.generated';
export type { ObjectMeta } from './meta';
export { rootSchema, customResourceDefinition, type CustomResourceDefinition } from './manifest';
export {
  validateResource,
  type WarrenResource,
  type FieldError,
  type ValidationResult,
} from './validate/resource';
export { parseDuration, formatDuration } from './duration';

/** `namespace/name`, how resources are named in messages and in topology documents. */
export function resourceKey(resource: { metadata: { name: string; namespace?: string } }): string {
  return `${resource.metadata.namespace ?? 'default'}/${resource.metadata.name}`;
}
export { syncGeneratedFiles, runGenerator, type GeneratedFile } from './sync-generated';
