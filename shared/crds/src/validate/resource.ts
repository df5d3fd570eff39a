import { rootSchema } from '../manifest';
import type { ResourceDefinition } from '../schema';
import { API_VERSION, GROUP, resourceDefinitions } from '../schema';
import type { DatabaseMigration, EventRoute, RetryPolicy } from '../types.generated';
import { checkCelRules } from './cel';
import { checkSchema } from './structural';

export type WarrenResource = EventRoute | RetryPolicy | DatabaseMigration;

export interface FieldError {
  /** `Kind namespace/name`, or what is known of it. */
  resource: string;
  /** Path in the document, as kubectl prints it (`spec.backoff.maxDelay`). */
  field: string;
  message: string;
}

export type ValidationResult =
  | { outcome: 'valid'; resource: WarrenResource }
  | { outcome: 'invalid'; errors: FieldError[] }
  /** Not a warren.dev object (a Secret next to the routes, say): not Warren's to judge. */
  | { outcome: 'foreign'; kind: string };

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DEFAULT_NAMESPACE = 'default';

function byKind(kind: unknown): ResourceDefinition | undefined {
  return resourceDefinitions.find((definition) => definition.kind === kind);
}

function metadataErrors(metadata: unknown): { field: string; message: string }[] {
  if (metadata === null || typeof metadata !== 'object') {
    return [{ field: 'metadata.name', message: 'Required value: name is required' }];
  }
  const { name, namespace } = metadata as { name?: unknown; namespace?: unknown };
  const errors: { field: string; message: string }[] = [];
  if (typeof name !== 'string' || name === '') {
    errors.push({ field: 'metadata.name', message: 'Required value: name is required' });
  } else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    errors.push({
      field: 'metadata.name',
      message:
        'Invalid value: a lowercase RFC 1123 subdomain (a-z, 0-9, "-", "."), at most 253 characters',
    });
  }
  if (
    namespace !== undefined &&
    (typeof namespace !== 'string' || !DNS_SUBDOMAIN.test(namespace))
  ) {
    errors.push({
      field: 'metadata.namespace',
      message: 'Invalid value: not a valid namespace name',
    });
  }
  return errors;
}

/**
 * Validates one parsed YAML/JSON document as the API server would on create: metadata, the
 * OpenAPI schema with defaults, then the CEL rules. The returned resource has defaults applied
 * and its namespace filled in.
 */
export function validateResource(document: unknown): ValidationResult {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    return {
      outcome: 'invalid',
      errors: [
        {
          resource: '(document)',
          field: '',
          message: 'not a Kubernetes object (expected a mapping)',
        },
      ],
    };
  }
  const object = structuredClone(document) as Record<string, unknown>;
  const apiVersion = String(object.apiVersion ?? '');
  const meta = (object.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : DEFAULT_NAMESPACE;
  const resource = `${String(object.kind ?? '(no kind)')} ${namespace}/${String(meta.name ?? '(no name)')}`;
  if (!apiVersion.startsWith(`${GROUP}/`)) return { outcome: 'foreign', kind: String(object.kind) };
  const definition = byKind(object.kind);
  if (apiVersion !== API_VERSION || !definition) {
    return {
      outcome: 'invalid',
      errors: [
        {
          resource,
          field: definition ? 'apiVersion' : 'kind',
          message: definition
            ? `Unsupported value: "${apiVersion}": supported values: "${API_VERSION}"`
            : `Unsupported value: "${String(object.kind)}": supported kinds: ${resourceDefinitions.map((d) => d.kind).join(', ')}`,
        },
      ],
    };
  }
  const errors: FieldError[] = metadataErrors(object.metadata).map((error) => ({
    resource,
    ...error,
  }));
  const schema = rootSchema(definition);
  errors.push(
    ...checkSchema(schema, object).map(({ path, message }) => ({ resource, field: path, message })),
  );
  if (errors.length === 0) {
    errors.push(
      ...checkCelRules(schema, object).map(({ path, message }) => ({
        resource,
        field: path,
        message,
      })),
    );
  }
  if (errors.length > 0) return { outcome: 'invalid', errors };
  (object.metadata as { namespace: string }).namespace = namespace;
  return { outcome: 'valid', resource: object as unknown as WarrenResource };
}
