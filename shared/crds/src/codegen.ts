import { stringify } from 'yaml';
import { customResourceDefinition } from './manifest';
import type { ResourceDefinition, Schema } from './schema';

/**
 * Emits the committed artefacts derived from the TypeScript schemas: the CRD YAML and the
 * TypeScript types. Both are plain text so a test can compare them with what is committed.
 */
export function crdYaml(definition: ResourceDefinition): string {
  return (
    '# Generated from shared/crds/src/schema by `npm run generate -w @warren/crds`: do not edit.\n' +
    stringify(customResourceDefinition(definition), { lineWidth: 0 })
  );
}

function comment(text: string, indent: string): string {
  return `${indent}/** ${text.replace(/\*\//g, '*\\/')} */\n`;
}

function typeOf(schema: Schema, indent: string): string {
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  switch (schema.type) {
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array': {
      const item = typeOf(schema.items!, indent);
      return /[|{]/.test(item) ? `Array<${item}>` : `${item}[]`;
    }
    case 'object':
      return schema.properties ? objectType(schema, indent, false) : 'Record<string, unknown>';
  }
}

/**
 * A field is optional in the type unless it is required or has a default: the types describe
 * objects as the API server stores them (and as local validation returns them), defaults applied.
 */
function objectType(schema: Schema, indent: string, allOptional: boolean): string {
  const inner = `${indent}  `;
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(schema.properties ?? {}).map(([name, property]) => {
    const optional = allOptional || !(required.has(name) || property.default !== undefined);
    return `${comment(property.description, inner)}${inner}${name}${optional ? '?' : ''}: ${typeOf(property, inner)};\n`;
  });
  return `{\n${fields.join('')}${indent}}`;
}

export function typesSource(definitions: ResourceDefinition[]): string {
  const parts = [
    '// Generated from shared/crds/src/schema by `npm run generate -w @warren/crds`: do not edit.\n',
    "import type { ObjectMeta } from './meta';\n",
  ];
  for (const definition of definitions) {
    const { kind } = definition;
    parts.push(
      `\n${comment(definition.spec.description, '')}export interface ${kind}Spec ${objectType(definition.spec, '', false)}\n`,
      `\n${comment(definition.status.description, '')}export interface ${kind}Status ${objectType(definition.status, '', true)}\n`,
      `\n${comment(definition.description, '')}export interface ${kind} {\n  apiVersion: 'warren.dev/v1alpha1';\n  kind: '${kind}';\n  metadata: ObjectMeta;\n  spec: ${kind}Spec;\n  status?: ${kind}Status;\n}\n`,
    );
  }
  return parts.join('');
}
