/**
 * `--kube` (and `kubectl warren`): the EventRoutes and RetryPolicies come from the API server of
 * the current kubeconfig context, and the broker from the operator's `warren-broker` Secret.
 */
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { EventRoute } from '@warren/crds';
import { UNMANAGED_ANNOTATION, isTrue } from '../controller/annotations';
import type { Plural } from '../controller/resources';
import { collectionPath, corePath } from '../controller/resources';
import { KubeApiError, KubeClient, type KubeObject } from '../kube/client';
import type { BrokerSettings } from './connection';
import { UsageError, brokerSettings } from './connection';
import type { LoadedResources } from './load';
import { addDocument, emptyLoad } from './load';

export const DEFAULT_BROKER_SECRET = 'warren-broker';

export interface ClusterFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces: boolean;
  /** `[NAMESPACE/]NAME` of the broker Secret; default warren-broker in the namespace. */
  brokerSecret?: string;
}

export interface Cluster {
  client: KubeClient;
  /** The namespace (of -n or the context); undefined with --all-namespaces. */
  namespace: string | undefined;
  /** Where the broker Secret is looked for. */
  secret: { namespace: string; name: string };
  /** Words for messages: `namespace shop of context kind-dev`. */
  describe: string;
}

export function openCluster(flags: ClusterFlags, env: NodeJS.ProcessEnv): Cluster {
  if (flags.allNamespaces && flags.namespace)
    throw new UsageError('-n and --all-namespaces exclude each other');
  const config = new KubeConfig();
  // One KUBECONFIG file is read from `env`; a list of them (merged) and the default go through client-node.
  const file =
    flags.kubeconfig ??
    (env.KUBECONFIG && !env.KUBECONFIG.includes(delimiter) ? env.KUBECONFIG : undefined);
  try {
    if (file) config.loadFromFile(file);
    else config.loadFromDefault();
  } catch (error) {
    throw new UsageError(
      `cannot read the kubeconfig ${file ?? env.KUBECONFIG ?? '~/.kube/config'}: ${(error as Error).message}`,
    );
  }
  if (flags.context) {
    if (!config.getContextObject(flags.context))
      throw new UsageError(`no context "${flags.context}" in the kubeconfig`);
    config.setCurrentContext(flags.context);
  }
  const context = config.getCurrentContext();
  if (!config.getCurrentCluster())
    throw new UsageError(
      `the kubeconfig has no current cluster (context "${context || '(none)'}"); pass --kubeconfig or --context`,
    );
  const contextNamespace = config.getContextObject(context)?.namespace ?? 'default';
  const namespace = flags.allNamespaces ? undefined : (flags.namespace ?? contextNamespace);
  const [secretNamespace, secretName] = (flags.brokerSecret ?? DEFAULT_BROKER_SECRET).includes('/')
    ? (flags.brokerSecret!.split('/', 2) as [string, string])
    : [namespace ?? contextNamespace, flags.brokerSecret ?? DEFAULT_BROKER_SECRET];
  return {
    client: KubeClient.fromKubeConfig(config),
    namespace,
    secret: { namespace: secretNamespace, name: secretName },
    describe: `${namespace ? `namespace ${namespace}` : 'all namespaces'} of context ${context}`,
  };
}

/** The API server's words for a refusal, with what the user lacks. */
function apiError(error: unknown, what: string, verb: string, cluster: Cluster): Error {
  if (!(error instanceof KubeApiError)) return error as Error;
  if (error.status === 401)
    return new Error(`${what}: the API server does not accept the kubeconfig's credentials (401)`);
  if (error.status === 403)
    return new Error(
      `${what}: forbidden: ${error.message} (needs "${verb}" in ${cluster.describe})`,
    );
  if (
    error.status === 404 &&
    /the server could not find the requested resource/.test(error.message)
  )
    return new Error(`${what}: the API server has no Warren CRDs (install crds/ or the chart)`);
  return new Error(`${what}: ${error.message}`);
}

/** Routes the operator manages: not released with warren.dev/unmanaged, not being deleted. */
const managed = (object: KubeObject) =>
  !object.metadata.deletionTimestamp &&
  !isTrue(object.metadata.annotations?.[UNMANAGED_ANNOTATION]);

/** The cluster's EventRoutes and RetryPolicies, validated like files (status and server fields dropped). */
export async function loadFromCluster(cluster: Cluster): Promise<LoadedResources> {
  const list = async (plural: Plural, kind: string) => {
    try {
      const listed = await cluster.client.list<KubeObject & { kind?: string }>(
        collectionPath(plural, cluster.namespace),
      );
      return listed.items.map((item) => ({ ...item, kind }));
    } catch (error) {
      throw apiError(error, `cannot list ${plural}`, `list ${plural}.warren.dev`, cluster);
    }
  };
  // One after the other, so a refusal always names the first thing missing.
  const routes = await list('eventroutes', 'EventRoute');
  const policies = await list('retrypolicies', 'RetryPolicy');
  const loaded = emptyLoad([cluster.describe]);
  const seen = new Map<string, string>();
  for (const object of [...routes.filter(managed), ...policies]) {
    const { name, namespace, labels, annotations } = object.metadata;
    const { spec } = object as unknown as EventRoute;
    addDocument(loaded, seen, cluster.describe, {
      apiVersion: object.apiVersion ?? 'warren.dev/v1alpha1',
      kind: object.kind,
      metadata: { name, namespace, labels, annotations },
      spec,
    });
  }
  return loaded;
}

const decode = (data: Record<string, string> | undefined, key: string) =>
  data?.[key] === undefined ? undefined : Buffer.from(data[key]!, 'base64').toString('utf8');

/**
 * The broker: --rabbitmq-url/--management-url, else RABBITMQ_URL/RABBITMQ_MANAGEMENT_URL, else
 * the operator's Secret (keys `url` and `managementUrl`). When the Secret cannot be read the
 * error names the Secret, the permission and the alternatives.
 */
export async function clusterBrokerSettings(
  cluster: Cluster,
  flags: { rabbitmqUrl?: string; managementUrl?: string; vhost?: string },
  env: NodeJS.ProcessEnv,
): Promise<BrokerSettings> {
  const given =
    flags.rabbitmqUrl ?? flags.managementUrl ?? env.RABBITMQ_URL ?? env.RABBITMQ_MANAGEMENT_URL;
  if (given) return brokerSettings(flags, env);
  const { namespace, name } = cluster.secret;
  const where = `Secret ${namespace}/${name}`;
  const instead =
    'pass --management-url and --rabbitmq-url (or set RABBITMQ_MANAGEMENT_URL and RABBITMQ_URL), or --broker-secret NAMESPACE/NAME';
  let secret: { data?: Record<string, string> };
  try {
    secret = await cluster.client.get(corePath(namespace, 'secrets', name));
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 403) {
      throw new Error(
        `cannot read the broker ${where}: forbidden (needs "get" on secrets/${name} in namespace ${namespace}): ${error.message}. The routes are readable; for the broker ${instead}`,
        { cause: error },
      );
    }
    if (error instanceof KubeApiError && error.status === 404)
      throw new Error(`no broker ${where} (the operator's broker Secret): ${instead}`, {
        cause: error,
      });
    throw apiError(error, `cannot read the broker ${where}`, `get secrets/${name}`, cluster);
  }
  const url = decode(secret.data, 'url');
  const managementUrl = decode(secret.data, 'managementUrl');
  if (!url && !managementUrl)
    throw new Error(`the broker ${where} has neither key "url" nor "managementUrl"`);
  return brokerSettings({ ...flags, rabbitmqUrl: url, managementUrl }, {});
}
