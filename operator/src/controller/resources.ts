/** API paths of the resources the operator watches and writes. */
import { API_VERSION } from '@warren/crds/core';

export type Plural = 'eventroutes' | 'retrypolicies' | 'databasemigrations';

/** Collection path, cluster-wide (namespace undefined) or in one namespace. */
export function collectionPath(plural: Plural, namespace?: string): string {
  return namespace
    ? `/apis/${API_VERSION}/namespaces/${namespace}/${plural}`
    : `/apis/${API_VERSION}/${plural}`;
}

export function objectPath(plural: Plural, namespace: string, name: string): string {
  return `${collectionPath(plural, namespace)}/${name}`;
}

export const corePath = (
  namespace: string,
  plural: 'configmaps' | 'secrets' | 'events' | 'pods',
  name?: string,
) => `/api/v1/namespaces/${namespace}/${plural}${name ? `/${name}` : ''}`;

export const coreCollectionPath = (plural: 'configmaps' | 'secrets', namespace?: string) =>
  namespace ? `/api/v1/namespaces/${namespace}/${plural}` : `/api/v1/${plural}`;
