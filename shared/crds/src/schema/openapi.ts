/**
 * The subset of Kubernetes' JSONSchemaProps (apiextensions.k8s.io/v1) that Warren's CRDs use.
 * Schemas are written with these helpers; `crds/*.yaml`, the TypeScript types and local
 * validation are all derived from them, so there is one source of truth.
 */
export interface CelRule {
  rule: string;
  message: string;
  /** JSONPath (relative to the node holding the rule) of the field the error is reported on. */
  fieldPath?: string;
  reason?:
    'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export interface Schema {
  type: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: readonly (string | number)[];
  default?: unknown;
  pattern?: string;
  format?: 'date-time' | 'int64' | 'int32';
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
}

type Extra = Omit<Partial<Schema>, 'type' | 'description'>;

export const string = (description: string, extra: Extra = {}): Schema => ({
  type: 'string',
  description,
  ...extra,
});

export const integer = (description: string, extra: Extra = {}): Schema => ({
  type: 'integer',
  description,
  ...extra,
});

export const number = (description: string, extra: Extra = {}): Schema => ({
  type: 'number',
  description,
  ...extra,
});

export const boolean = (description: string, extra: Extra = {}): Schema => ({
  type: 'boolean',
  description,
  ...extra,
});

export const array = (description: string, items: Schema, extra: Extra = {}): Schema => ({
  type: 'array',
  description,
  items,
  ...extra,
});

/** An object; `required` lists the properties that must be present (fields with defaults need not). */
export const object = (
  description: string,
  properties: Record<string, Schema>,
  extra: Extra = {},
): Schema => ({ type: 'object', description, properties, ...extra });

export const enumOf = <T extends string>(
  description: string,
  values: readonly T[],
  extra: Extra = {},
): Schema => string(description, { enum: values, ...extra });

/** A Kubernetes object name in the same namespace (DNS-1123 subdomain). */
export const objectName = (description: string): Schema =>
  string(description, {
    pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
    maxLength: 253,
  });

/** A service name: a DNS-1123 label, so it fits in queue, user and Kubernetes object names. */
export const serviceName = (description: string): Schema =>
  string(description, {
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
    minLength: 1,
    maxLength: 63,
  });

/**
 * Durations are Go/Kubernetes duration strings made of whole numbers with units ms, s, m, h
 * ("500ms", "1s", "1m30s"), the form CEL's duration() parses, so rules compare them exactly.
 */
export const duration = (description: string, extra: Extra = {}): Schema =>
  string(description, { pattern: '^([0-9]{1,9}(ms|s|m|h))+$', maxLength: 32, ...extra });

/** metav1.Condition, the shape kubectl and every controller tool understands. */
export const conditions = (): Schema =>
  array(
    'Standard Kubernetes conditions (Ready, Reconciling, Degraded, Stalled), each with a reason.',
    object(
      'One aspect of the resource state at one time.',
      {
        type: string('Condition type: Ready, Reconciling, Degraded or Stalled.', {
          maxLength: 316,
        }),
        status: enumOf('Whether the condition holds.', ['True', 'False', 'Unknown']),
        reason: string('A CamelCase machine-readable reason for the last transition.', {
          maxLength: 1024,
          pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
        }),
        message: string('A human-readable explanation, naming the object and field concerned.', {
          maxLength: 32768,
        }),
        lastTransitionTime: string('When the status last changed.', { format: 'date-time' }),
        observedGeneration: integer('The metadata.generation the condition was computed from.', {
          format: 'int64',
          minimum: 0,
        }),
      },
      { required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'] },
    ),
    {
      maxItems: 8,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
  );

export const observedGeneration = (): Schema =>
  integer('The metadata.generation the operator last acted on.', {
    format: 'int64',
    minimum: 0,
  });
