import { customResourceDefinition, resourceDefinitions } from '../src';
import type { Schema } from '../src';

function walk(schema: Schema, path: string, visit: (schema: Schema, path: string) => void): void {
  visit(schema, path);
  for (const [key, child] of Object.entries(schema.properties ?? {}))
    walk(child, `${path}.${key}`, visit);
  if (schema.items) walk(schema.items, `${path}[]`, visit);
}

describe.each(resourceDefinitions)('the $kind CRD', (definition) => {
  const crd = customResourceDefinition(definition);
  const version = (crd.spec.versions as Record<string, unknown>[])[0]!;
  const root = (version.schema as { openAPIV3Schema: Schema }).openAPIV3Schema;

  it('describes every field and types every node (a structural schema)', () => {
    const undocumented: string[] = [];
    walk(root, definition.kind, (schema, path) => {
      // metadata is the API server's own: it refuses a description there.
      if (!schema.description && path !== `${definition.kind}.metadata`) undocumented.push(path);
      if (!schema.type) undocumented.push(`${path} (no type)`);
    });
    expect(undocumented).toEqual([]);
  });

  it('bounds every string and list that a CEL rule reads, as the API server cost budget requires', () => {
    const unbounded: string[] = [];
    walk(root, definition.kind, (schema, path) => {
      if (schema.type === 'array' && schema.maxItems === undefined) unbounded.push(path);
    });
    expect(unbounded).toEqual([]);
  });

  it('has the status subresource, printer columns, short names and the warren category', () => {
    expect(version.subresources).toEqual({ status: {} });
    expect((version.additionalPrinterColumns as unknown[]).length).toBeGreaterThan(2);
    expect(crd.spec.names).toMatchObject({ categories: ['warren'], kind: definition.kind });
    expect((crd.spec.names as { shortNames: string[] }).shortNames.length).toBeGreaterThan(0);
  });
});
