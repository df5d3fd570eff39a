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
export { parseDuration, formatDuration, resourceKey } from './core';
export { syncGeneratedFiles, runGenerator, type GeneratedFile } from './sync-generated';
