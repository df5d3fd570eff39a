import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import type { CelInput } from '@bufbuild/cel';
import type { CelRule, Schema } from '../schema/openapi';
import { appendFieldPath, joinPath } from './paths';

export interface CelViolation {
  path: string;
  message: string;
  rule: string;
}

type Program = (bindings: { self: CelInput }) => unknown;
const env = celEnv();
const programs = new Map<string, Program>();

/** Compiled once per rule; a rule that does not parse is a bug in the schemas, so it throws. */
function program(rule: string): Program {
  let compiled = programs.get(rule);
  if (!compiled) {
    compiled = plan(env, parse(rule)) as Program;
    programs.set(rule, compiled);
  }
  return compiled;
}

/**
 * The value as the API server's CEL sees it: objects are maps, schema integers are CEL ints
 * (bigint in this evaluator), other numbers doubles.
 */
function toCel(value: unknown, schema: Schema | undefined): CelInput {
  if (Array.isArray(value)) return value.map((item) => toCel(item, schema?.items));
  if (value !== null && typeof value === 'object') {
    return new Map(
      Object.entries(value).map(([key, item]) => [key, toCel(item, schema?.properties?.[key])]),
    );
  }
  if (typeof value === 'number' && schema?.type === 'integer') return BigInt(value);
  return value as CelInput;
}

function evaluate(rule: CelRule, value: unknown, schema: Schema): boolean | string {
  const result = program(rule.rule)({ self: toCel(value, schema) });
  if (isCelError(result)) return `rule "${rule.rule}" could not be evaluated: ${result.message}`;
  return result === true;
}

/**
 * Runs every `x-kubernetes-validations` rule of the schema on the value, depth first, as the
 * API server does after defaulting. Rules on absent optional fields do not run.
 */
export function checkCelRules(schema: Schema, value: unknown, path = ''): CelViolation[] {
  const violations: CelViolation[] = [];
  if (value === undefined || value === null) return violations;
  if (schema.type === 'object' && schema.properties && typeof value === 'object') {
    for (const [key, child] of Object.entries(schema.properties)) {
      const childValue = (value as Record<string, unknown>)[key];
      violations.push(...checkCelRules(child, childValue, joinPath(path, key)));
    }
  }
  if (schema.type === 'array' && schema.items && Array.isArray(value)) {
    value.forEach((item, index) => {
      violations.push(...checkCelRules(schema.items!, item, joinPath(path, index)));
    });
  }
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    const outcome = evaluate(rule, value, schema);
    if (outcome === true) continue;
    violations.push({
      path: appendFieldPath(path, rule.fieldPath),
      message: typeof outcome === 'string' ? outcome : rule.message,
      rule: rule.rule,
    });
  }
  return violations;
}
