/**
 * How to reach the API server: its URL, one keep-alive agent (TLS settings in it) and the
 * headers of each request. Kubeconfigs with certificates, tokens or token files, and the
 * in-cluster ServiceAccount, are read here; anything else (exec plugins, auth providers,
 * proxies) goes through @kubernetes/client-node, imported only then: loading it costs a Node
 * process about 65 MiB of RSS (its generated API models come with `KubeConfig`).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeConnection {
  /** The server URL without a trailing slash. */
  server(): Promise<string>;
  agent(): Promise<http.Agent | undefined>;
  /** Per request: tokens rotate. */
  headers(): Promise<Record<string, string>>;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

type Named<K extends string, V> = { name: string } & Record<K, V>;

interface ClusterEntry {
  server: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
}

interface UserEntry {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
  username?: string;
}

type Kubeconfig = {
  'current-context'?: string;
  contexts?: Named<'context', { cluster: string; user: string }>[];
  clusters?: Named<'cluster', ClusterEntry>[];
  users?: Named<'user', UserEntry>[];
};

/** A file's bytes, or inline base64 data; relative paths are relative to the kubeconfig. */
function material(base: string, file?: string, data?: string): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (file) return fs.readFileSync(path.resolve(base, file));
  return undefined;
}

/** The kubeconfig's current context, or undefined when it needs client-node (exec, OIDC, proxy). */
export function staticConnection(file: string): KubeConnection | undefined {
  const text = fs.readFileSync(file, 'utf8');
  // A JSON kubeconfig (what Warren's own tooling writes) needs no YAML parser in memory.
  const config = (
    text.trimStart().startsWith('{')
      ? JSON.parse(text)
      : // eslint-disable-next-line @typescript-eslint/no-require-imports -- only for a YAML kubeconfig
        (require('yaml') as typeof import('yaml')).parse(text)
  ) as Kubeconfig;
  const base = path.dirname(file);
  const context = config.contexts?.find((c) => c.name === config['current-context'])?.context;
  if (!context) throw new Error(`kubeconfig ${file} has no current context`);
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`kubeconfig ${file} has no current cluster`);
  const user = config.users?.find((u) => u.name === context.user)?.user ?? {};
  if (user.exec || user['auth-provider'] || user.username || cluster['proxy-url']) return undefined;
  const agent = new https.Agent({
    keepAlive: true,
    ca: material(base, cluster['certificate-authority'], cluster['certificate-authority-data']),
    cert: material(base, user['client-certificate'], user['client-certificate-data']),
    key: material(base, user['client-key'], user['client-key-data']),
    rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
    ...(cluster['tls-server-name'] && { servername: cluster['tls-server-name'] }),
  });
  const server = cluster.server.replace(/\/$/, '');
  const tokenFile = user.tokenFile && path.resolve(base, user.tokenFile);
  return {
    server: async () => server,
    agent: async () => (server.startsWith('https:') ? agent : undefined),
    headers: async (): Promise<Record<string, string>> => {
      const token = tokenFile ? fs.readFileSync(tokenFile, 'utf8').trim() : user.token;
      return token ? { authorization: `Bearer ${token}` } : {};
    },
  };
}

/** The pod's ServiceAccount (token re-read per request: the kubelet rotates it). */
export function inClusterConnection(serviceAccount = SERVICE_ACCOUNT): KubeConnection {
  const host = process.env.KUBERNETES_SERVICE_HOST!;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const agent = new https.Agent({
    keepAlive: true,
    ca: fs.readFileSync(path.join(serviceAccount, 'ca.crt')),
  });
  return {
    server: async () => server,
    agent: async () => agent,
    headers: async () => ({
      authorization: `Bearer ${fs.readFileSync(path.join(serviceAccount, 'token'), 'utf8').trim()}`,
    }),
  };
}

/**
 * A connection over a client-node KubeConfig (what the CLI builds, and the fallback): auth
 * headers per request, one agent made keep-alive (client-node builds one per call, which meant a
 * TLS handshake per request).
 */
export function kubeConfigConnection(load: () => Promise<KubeConfig>): KubeConnection {
  let config: Promise<KubeConfig> | undefined;
  let kept: http.Agent | undefined;
  const loaded = () => (config ??= load());
  const options = async () => (await loaded()).applyToFetchOptions({});
  return {
    async server() {
      const cluster = (await loaded()).getCurrentCluster();
      if (!cluster) throw new Error('kubeconfig has no current cluster');
      return cluster.server.replace(/\/$/, '');
    },
    async agent() {
      const made = (await options()).agent as http.Agent | undefined;
      if (!kept && made) {
        // Proxy agents (cluster.proxy-url) are kept as made; plain ones get keep-alive.
        const plain = made.constructor === https.Agent || made.constructor === http.Agent;
        kept = plain
          ? new (made.constructor as typeof http.Agent)({
              ...(made as http.Agent & { options: http.AgentOptions }).options,
              keepAlive: true,
            })
          : made;
      }
      return kept ?? made;
    },
    async headers() {
      // A Headers object (spreading it, as this client once did, loses the bearer token).
      const { headers } = await options();
      return Object.fromEntries(new Headers(headers as unknown as Headers));
    },
  };
}

/** client-node's loading, imported only when a kubeconfig needs it. */
const clientNodeConfig = (file?: string) => async () => {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  if (file) config.loadFromFile(file);
  else config.loadFromDefault();
  return config;
};

/** The file, else $KUBECONFIG, ~/.kube/config, then the in-cluster ServiceAccount (client-node's order). */
export function loadConnection(file?: string): KubeConnection {
  if (file) return staticConnection(file) ?? kubeConfigConnection(clientNodeConfig(file));
  const listed = (process.env.KUBECONFIG ?? '').split(path.delimiter).filter(Boolean);
  // Several KUBECONFIG files are merged by client-node; a single one is read here.
  if (listed.length > 1) return kubeConfigConnection(clientNodeConfig());
  const found = [...listed, path.join(os.homedir(), '.kube', 'config')].find((candidate) =>
    fs.existsSync(candidate),
  );
  if (found) return staticConnection(found) ?? kubeConfigConnection(clientNodeConfig(found));
  if (process.env.KUBERNETES_SERVICE_HOST) return inClusterConnection();
  return kubeConfigConnection(clientNodeConfig());
}
