import type { OpenAPIObject } from '@nestjs/swagger';
import type {
  OperationObject,
  ParameterObject,
  ReferenceObject,
  ResponseObject,
  SchemaObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import type { NextFunction, Request, Response } from 'express';
import { IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_SCHEMA } from './idempotency';

/**
 * What every service's OpenAPI document says beyond its controllers' decorators: the answers
 * the shared machinery gives (400 from validation, 413 from the body parser, 422 from a reused
 * Idempotency-Key, 503 from load shedding) with their bodies, the X-Correlation-Id header on
 * every answer, the Idempotency-Key format, and request bodies closed to unknown fields (the
 * validation pipe refuses them). Pure: document in, completed document out.
 */

export const CORRELATION_RESPONSE_HEADER = 'X-Correlation-Id';
export const RETRY_AFTER_HEADER = 'Retry-After';

const ERROR_REF = { $ref: '#/components/schemas/ErrorResponse' };
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const ERROR_SCHEMAS: Record<string, SchemaObject> = {
  FieldError: {
    type: 'object',
    required: ['field', 'problems'],
    properties: {
      field: { type: 'string', example: 'items[0].quantity' },
      problems: { type: 'array', items: { type: 'string' } },
    },
  },
  ErrorResponse: {
    type: 'object',
    description: 'Every error answer: the status, its name and what went wrong',
    required: ['statusCode', 'message'],
    properties: {
      statusCode: { type: 'integer' },
      error: { type: 'string' },
      message: { type: 'string' },
      fields: {
        type: 'array',
        description: 'On a 400 for invalid input: each invalid field and its problems',
        items: { $ref: '#/components/schemas/FieldError' },
      },
    },
  },
};

const STANDARD_ANSWERS = {
  badRequest: 'Invalid request: `message` says what is wrong, `fields` names each invalid field',
  tooLarge: 'The request body is larger than 1 MiB',
  keyReused: `The ${IDEMPOTENCY_HEADER} was already used with a different request body`,
  overloaded: `Overloaded: the database is the limit right now; retry after ${RETRY_AFTER_HEADER} seconds`,
} as const;

function errorAnswer(description: string, headers: ResponseObject['headers'] = {}): ResponseObject {
  return { description, headers, content: { 'application/json': { schema: ERROR_REF } } };
}

function isReference(value: unknown): value is ReferenceObject {
  return typeof value === 'object' && value !== null && '$ref' in value;
}

/** Every component schema reachable from `schema` (through $ref, properties, items). */
function reachableSchemas(
  schema: SchemaObject | ReferenceObject | undefined,
  components: Record<string, SchemaObject | ReferenceObject>,
  found: Set<string>,
): void {
  if (!schema) return;
  if (isReference(schema)) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    if (found.has(name)) return;
    found.add(name);
    reachableSchemas(components[name], components, found);
    return;
  }
  for (const property of Object.values(schema.properties ?? {}))
    reachableSchemas(property, components, found);
  if (schema.items) reachableSchemas(schema.items, components, found);
  for (const part of [...(schema.allOf ?? []), ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])])
    reachableSchemas(part, components, found);
}

/** The operation's answers with the shared ones added (an answer it declares itself is kept). */
function completeOperation(path: string, operation: OperationObject): Set<string> {
  const parameters = (operation.parameters ?? []) as ParameterObject[];
  for (const parameter of parameters) {
    if (parameter.in === 'header' && parameter.name === IDEMPOTENCY_HEADER)
      parameter.schema = { ...IDEMPOTENCY_KEY_SCHEMA };
  }
  const responses = operation.responses as Record<string, ResponseObject>;
  const add = (status: string, answer: ResponseObject) => {
    responses[status] = responses[status]
      ? { ...answer, ...responses[status], content: responses[status].content ?? answer.content }
      : answer;
  };
  if (parameters.length > 0 || operation.requestBody)
    add('400', errorAnswer(STANDARD_ANSWERS.badRequest));
  if (operation.requestBody) add('413', errorAnswer(STANDARD_ANSWERS.tooLarge));
  if (parameters.some((p) => p.in === 'header' && p.name === IDEMPOTENCY_HEADER))
    add('422', errorAnswer(STANDARD_ANSWERS.keyReused));
  if (!UNSHED_PATHS.has(path)) {
    add(
      '503',
      errorAnswer(STANDARD_ANSWERS.overloaded, {
        [RETRY_AFTER_HEADER]: {
          required: true,
          description: 'Seconds to wait before trying again',
          schema: { type: 'integer', minimum: 1 },
        },
      }),
    );
  }
  for (const [status, answer] of Object.entries(responses)) {
    if (Number(status) >= 400 && !answer.content) answer.content = errorAnswer('').content;
    if (!answer.description) answer.description = status;
    answer.headers = {
      [CORRELATION_RESPONSE_HEADER]: {
        required: true,
        description: 'The request correlation id (the one sent, or a new one)',
        schema: { type: 'string' },
      },
      ...answer.headers,
    };
  }
  const bodies = new Set<string>();
  const body = operation.requestBody;
  if (body && !isReference(body)) {
    for (const media of Object.values(body.content)) {
      if (media.schema && isReference(media.schema)) {
        bodies.add(media.schema.$ref.replace('#/components/schemas/', ''));
      }
    }
  }
  return bodies;
}

/** Paths that never wait for the database, so never shed (see `loadShedding`). */
export const UNSHED_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

export function completeDocument(document: OpenAPIObject): OpenAPIObject {
  const components = (document.components ??= {});
  const schemas = (components.schemas ??= {});
  Object.assign(schemas, ERROR_SCHEMAS);
  const requestBodies = new Set<string>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) completeOperation(path, operation).forEach((n) => requestBodies.add(n));
    }
  }
  const closed = new Set<string>();
  for (const name of requestBodies)
    reachableSchemas({ $ref: `#/components/schemas/${name}` }, schemas, closed);
  for (const name of closed) {
    const schema = schemas[name];
    if (schema && !isReference(schema)) schema.additionalProperties = false;
  }
  return document;
}

interface PathMethods {
  pattern: RegExp;
  allow: string;
  methods: Set<string>;
}

/** Each documented path as a matcher, with the methods it has. */
export function documentedMethods(document: OpenAPIObject): PathMethods[] {
  return Object.entries(document.paths).map(([path, item]) => {
    const methods = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
    const source = path
      .split('/')
      .map((segment) =>
        /^\{[^}]+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    return {
      pattern: new RegExp(`^${source}/?$`),
      allow: methods.join(', '),
      // Express answers HEAD with its GET route.
      methods: new Set(methods.includes('GET') ? [...methods, 'HEAD'] : methods),
    };
  });
}

/**
 * 405 with `Allow` for a method a documented path does not have (rather than 404): the document
 * is the route table, so the two cannot disagree.
 */
export function methodNotAllowed(document: OpenAPIObject) {
  const paths = documentedMethods(document);
  return (req: Request, res: Response, next: NextFunction): void => {
    const path = paths.find((p) => p.pattern.test(req.path));
    if (!path || path.methods.has(req.method)) return next();
    res.setHeader('Allow', path.allow);
    res.status(405).json({
      statusCode: 405,
      error: 'Method Not Allowed',
      message: `${req.method} is not allowed on ${req.path}; allowed: ${path.allow}`,
    });
  };
}
