import * as http from 'node:http';
import * as https from 'node:https';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import fetch, { type RequestInit } from 'node-fetch';

/** An API server answer other than 2xx, with the server's own reason and message. */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    ownerReferences?: unknown[];
  };
}

export interface KubeList<T> {
  metadata: { resourceVersion: string; continue?: string };
  items: T[];
}

type Query = Record<string, string | number | boolean | undefined>;

/**
 * A thin REST client over a KubeConfig: raw paths in, JSON out. The operator needs a handful of
 * verbs on a handful of resources; this keeps them explicit (status subresource, merge patch,
 * resourceVersion preconditions) instead of hiding them behind generated API classes.
 */
export class KubeClient {
  readonly watcher: Watch;
  private agent: http.Agent | undefined;
  /** Called once per request with its HTTP method (the operator counts them in a metric). */
  onRequest?: (method: string) => void;

  constructor(readonly config: KubeConfig) {
    this.watcher = new Watch(config);
  }

  /**
   * Auth headers are computed per request (tokens rotate); the agent is made once. client-node
   * builds a new Agent per call, which meant a new TLS session per request: at 500 routes the
   * operator spent more CPU in handshakes than in its own work.
   */
  private async connectionOptions(): Promise<{
    agent: http.Agent | undefined;
    headers: Record<string, string>;
  }> {
    const options = await this.config.applyToFetchOptions({});
    const made = options.agent as http.Agent | undefined;
    if (!this.agent && made) {
      // Proxy agents (cluster.proxy-url) are kept as made; plain ones get keep-alive.
      const plain = made.constructor === https.Agent || made.constructor === http.Agent;
      this.agent = plain
        ? new (made.constructor as typeof http.Agent)({
            ...(made as http.Agent & { options: http.AgentOptions }).options,
            keepAlive: true,
          })
        : made;
    }
    // A Headers object (spreading it, as this client once did, loses the bearer token).
    const headers = Object.fromEntries(new Headers(options.headers as unknown as Headers));
    return { agent: this.agent ?? made, headers };
  }

  static fromKubeconfigFile(file?: string): KubeClient {
    const config = new KubeConfig();
    if (file) config.loadFromFile(file);
    else config.loadFromDefault();
    return new KubeClient(config);
  }

  async request<T>(
    method: string,
    path: string,
    options: { query?: Query; body?: unknown; contentType?: string } = {},
  ): Promise<T> {
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    this.onRequest?.(method);
    const { agent, headers } = await this.connectionOptions();
    const init: RequestInit = {
      method,
      agent,
      headers: { ...headers, accept: 'application/json' },
    };
    if (options.body !== undefined) {
      (init.headers as Record<string, string>)['content-type'] =
        options.contentType ?? 'application/json';
      init.body = JSON.stringify(options.body);
    }
    const response = await fetch(url.toString(), init);
    const text = await response.text();
    // Errors are usually a JSON Status, but a 404 outside any API group is plain text.
    let body: { reason?: string; message?: string; details?: unknown } | undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      if (response.ok)
        throw new Error(
          `${method} ${path}: the API server answered with non-JSON: ${text.slice(0, 200)}`,
        );
    }
    if (!response.ok) {
      throw new KubeApiError(
        response.status,
        body?.reason ?? response.statusText,
        body?.message ?? text,
        body?.details,
      );
    }
    return body as T;
  }

  get<T>(path: string) {
    return this.request<T>('GET', path);
  }

  /** GET or undefined on 404. */
  async find<T>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  list<T>(path: string, query: Query = {}) {
    return this.request<KubeList<T>>('GET', path, { query });
  }

  create<T>(path: string, body: unknown) {
    return this.request<T>('POST', path, { body });
  }

  replace<T>(path: string, body: unknown) {
    return this.request<T>('PUT', path, { body });
  }

  mergePatch<T>(path: string, patch: unknown) {
    return this.request<T>('PATCH', path, {
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  }

  /** Server-side apply with a named field manager; `force` takes ownership of conflicting fields. */
  apply<T>(path: string, body: unknown, fieldManager: string) {
    return this.request<T>('PATCH', path, {
      body,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager, force: true },
    });
  }

  async remove(path: string): Promise<void> {
    try {
      await this.request('DELETE', path);
    } catch (error) {
      if (!(error instanceof KubeApiError && error.status === 404)) throw error;
    }
  }
}
