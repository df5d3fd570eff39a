import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Schema } from '../schema/openapi';
import { fromJsonPointer, joinPath } from './paths';

export interface SchemaViolation {
  path: string;
  message: string;
}

/**
 * The schema as JSON Schema for Ajv. Structural CRD schemas cannot say
 * `additionalProperties: false`, yet `kubectl apply` (strict field validation) refuses unknown
 * fields, so it is added here to every object that lists its properties, metadata excepted.
 */
function toJsonSchema(schema: Schema, isMetadata = false): Record<string, unknown> {
  const { properties, items, ...rest } = schema;
  const out: Record<string, unknown> = { ...rest };
  delete out['x-kubernetes-validations'];
  if (properties) {
    out.properties = Object.fromEntries(
      Object.entries(properties).map(([key, child]) => [
        key,
        toJsonSchema(child, key === 'metadata'),
      ]),
    );
    if (!isMetadata) out.additionalProperties = false;
  }
  if (items) out.items = toJsonSchema(items);
  return out;
}

const ajv = new Ajv({
  allErrors: true,
  useDefaults: true,
  strict: false,
  formats: { 'date-time': true, int64: true, int32: true },
});

const compiled = new WeakMap<Schema, ValidateFunction>();

function describe(error: ErrorObject): SchemaViolation {
  const path = fromJsonPointer(error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path: joinPath(path, String(params.missingProperty)), message: 'Required value' };
    case 'additionalProperties':
      return { path: joinPath(path, String(params.additionalProperty)), message: 'unknown field' };
    case 'enum':
      return {
        path,
        message: `Unsupported value: supported values: ${(params.allowedValues as unknown[])
          .map((value) => JSON.stringify(value))
          .join(', ')}`,
      };
    default:
      return { path, message: `Invalid value: ${error.message ?? error.keyword}` };
  }
}

/**
 * Validates the value against the schema and fills in defaults in place, like the API server's
 * defaulting followed by its OpenAPI validation.
 */
export function checkSchema(schema: Schema, value: unknown): SchemaViolation[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(toJsonSchema(schema));
    compiled.set(schema, validate);
  }
  if (validate(value)) return [];
  return (validate.errors ?? []).map(describe);
}
