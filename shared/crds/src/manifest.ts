import type { ResourceDefinition } from './schema';
import { GROUP, VERSION } from './schema';
import type { Schema } from './schema/openapi';
import { object, string } from './schema/openapi';

/** The full schema of one kind, as the API server sees it (`openAPIV3Schema`). */
export function rootSchema(definition: ResourceDefinition): Schema {
  return object(
    definition.description,
    {
      apiVersion: string('APIVersion of this object: warren.dev/v1alpha1.'),
      kind: string(`Kind of this object: ${definition.kind}.`),
      // The API server refuses anything but `type` here (name and generateName aside).
      metadata: { type: 'object' } as Schema,
      spec: definition.spec,
      status: definition.status,
    },
    {
      required: ['spec'],
      ...(definition.rootRules ? { 'x-kubernetes-validations': definition.rootRules } : {}),
    },
  );
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
}

/** The CustomResourceDefinition object of one kind (what `crds/<plural>.yaml` holds). */
export function customResourceDefinition(definition: ResourceDefinition): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${definition.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'warren', 'app.kubernetes.io/part-of': 'warren' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: definition.kind,
        listKind: `${definition.kind}List`,
        plural: definition.plural,
        singular: definition.singular,
        shortNames: definition.shortNames,
        categories: ['warren'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: definition.printerColumns,
          schema: { openAPIV3Schema: rootSchema(definition) },
        },
      ],
    },
  };
}
