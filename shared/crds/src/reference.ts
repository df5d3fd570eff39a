import { customResourceDefinition } from './manifest';
import type { ResourceDefinition, Schema } from './schema';
import { API_VERSION } from './schema';

/** docs/crd-reference.md, generated from the schemas so it never drifts from them. */
function constraints(schema: Schema): string {
  const parts: string[] = [];
  if (schema.enum) parts.push(`one of ${schema.enum.map((v) => `\`${v}\``).join(', ')}`);
  if (schema.pattern) parts.push(`pattern \`${schema.pattern.replace(/\|/g, '\\|')}\``);
  if (schema.minimum !== undefined) parts.push(`>= ${schema.minimum}`);
  if (schema.maximum !== undefined) parts.push(`<= ${schema.maximum}`);
  if (schema.minLength !== undefined) parts.push(`length >= ${schema.minLength}`);
  if (schema.maxLength !== undefined) parts.push(`length <= ${schema.maxLength}`);
  if (schema.minItems !== undefined) parts.push(`items >= ${schema.minItems}`);
  if (schema.maxItems !== undefined) parts.push(`items <= ${schema.maxItems}`);
  if (schema.format) parts.push(`format ${schema.format}`);
  return parts.join('; ');
}

function rows(schema: Schema, path: string, required: boolean, out: string[]): void {
  const defaultValue = schema.default === undefined ? '' : `\`${JSON.stringify(schema.default)}\``;
  const type = schema.type === 'array' ? `${schema.items!.type}[]` : schema.type;
  out.push(
    `| \`${path}\` | ${type} | ${required ? 'yes' : ''} | ${defaultValue} | ${constraints(schema)} | ${schema.description.replace(/\|/g, '\\|')} |`,
  );
  const requiredChildren = new Set(schema.required ?? []);
  for (const [key, child] of Object.entries(schema.properties ?? {}))
    rows(child, `${path}.${key}`, requiredChildren.has(key), out);
  if (schema.items?.properties) {
    const itemRequired = new Set(schema.items.required ?? []);
    for (const [key, child] of Object.entries(schema.items.properties))
      rows(child, `${path}[].${key}`, itemRequired.has(key), out);
  }
}

function rules(schema: Schema, path: string, out: string[]): void {
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    out.push(
      `| \`${path}${rule.fieldPath ?? ''}\` | \`${rule.rule.replace(/\|/g, '\\|')}\` | ${rule.message} |`,
    );
  }
  for (const [key, child] of Object.entries(schema.properties ?? {}))
    rules(child, `${path}.${key}`, out);
  if (schema.items) rules(schema.items, `${path}[]`, out);
}

function section(definition: ResourceDefinition): string {
  const crd = customResourceDefinition(definition);
  const fields: string[] = [
    '| Field | Type | Required | Default | Constraints | Description |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  rows(definition.spec, 'spec', true, fields);
  rows(definition.status, 'status', false, fields);
  const celRules: string[] = ['| Field | Rule (CEL) | Message |', '| --- | --- | --- |'];
  for (const rule of definition.rootRules ?? [])
    celRules.push(
      `| \`${rule.fieldPath?.slice(1) ?? '(object)'}\` | \`${rule.rule.replace(/\|/g, '\\|')}\` | ${rule.message} |`,
    );
  rules(definition.spec, 'spec', celRules);
  const columns = definition.printerColumns
    .map((c) => `\`${c.name}\`${c.priority ? ' (wide)' : ''}`)
    .join(', ');
  return [
    `## ${definition.kind}`,
    '',
    definition.description,
    '',
    `CRD \`${crd.metadata.name}\`, \`apiVersion: ${API_VERSION}\`, namespaced, short names ${definition.shortNames.map((s) => `\`${s}\``).join(', ')}, category \`warren\` (\`kubectl get warren\`), status subresource. Columns of \`kubectl get\`: ${columns}.`,
    '',
    ...fields,
    '',
    'Cross-field rules, checked by the API server and by `warren validate`:',
    '',
    ...celRules,
    '',
  ].join('\n');
}

export function crdReference(definitions: ResourceDefinition[]): string {
  return [
    '<!-- Generated from shared/crds/src/schema by `npm run generate -w @warren/crds`: do not edit. -->',
    '',
    '# Custom resource reference',
    '',
    'Group `warren.dev`, version `v1alpha1`. The manifests are in `crds/`. Durations are strings of whole numbers with units `ms`, `s`, `m`, `h` (`500ms`, `1s`, `1m30s`), the form CEL `duration()` reads. Fields with a default are filled in by the API server (and by `warren`) when absent.',
    '',
    "Labels on the CRDs: `app.kubernetes.io/name: warren`, `app.kubernetes.io/part-of: warren`. Warren reads no labels or annotations of these resources yet; broker objects are marked as Warren's as described in [naming.md](naming.md).",
    '',
    ...definitions.map(section),
  ].join('\n');
}
