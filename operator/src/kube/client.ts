import * as http from 'node:http';
import * as https from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeConfigConnection, loadConnection, type KubeConnection } from './connection';

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

/** One request's method, agent, headers and body (what node:http(s).request takes, plus the body). */
interface HttpRequest {
  method: string;
  agent: http.Agent | undefined;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/**
 * One exchange over node:http(s) with the connection's keep-alive agent; resolves with the
 * answer's head, its body unread. (node:http rather than a fetch library: one module fewer to
 * load and keep in memory for the life of the operator.)
 */
function send(url: URL, init: HttpRequest): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const { body, ...options } = init;
    if (body !== undefined) options.headers['content-length'] = String(Buffer.byteLength(body));
    const request = (url.protocol === 'https:' ? https : http).request(url, options, resolve);
    request.on('error', reject);
    request.end(body);
  });
}

async function readText(response: http.IncomingMessage): Promise<string> {
  response.setEncoding('utf8');
  let text = '';
  for await (const chunk of response) text += chunk as string;
  return text;
}

/**
 * The resource a request path names, with its subresource: `configmaps`, `eventroutes/status`,
 * `leases`, `namespaces` (a metric label: bounded by the kinds the operator touches, never a name).
 */
export function resourceOfPath(path: string): string {
  const segments = path.split('?')[0]!.split('/').filter(Boolean);
  // After /api/v1 or /apis/<group>/<version>: [namespaces, ns,] resource [, name [, subresource]].
  const rest = segments.slice(segments[0] === 'api' ? 2 : 3);
  const scoped = rest[0] === 'namespaces' && rest.length >= 3 ? rest.slice(2) : rest;
  const [resource = 'unknown', , subresource] = scoped;
  return subresource ? `${resource}/${subresource}` : resource;
}

/** A watch in progress: `abort()` ends it (its `done` is then called once). */
export type WatchHandle = AbortController;

/**
 * A thin REST client over a connection (kube/connection.ts): raw paths in, JSON out. The
 * operator needs a handful of verbs on a handful of resources; this keeps them explicit (status
 * subresource, merge patch, resourceVersion preconditions) instead of hiding them behind
 * generated API classes.
 */
export class KubeClient {
  /** Called once per request with its HTTP method and resource (the operator counts them in a metric). */
  onRequest?: (method: string, resource: string) => void;

  constructor(readonly connection: KubeConnection) {}

  static fromKubeconfigFile(file?: string): KubeClient {
    return new KubeClient(loadConnection(file));
  }

  /** Over a client-node KubeConfig the caller built (the CLI's contexts and flags). */
  static fromKubeConfig(config: KubeConfig): KubeClient {
    return new KubeClient(kubeConfigConnection(async () => config));
  }

  private async init(method: string): Promise<HttpRequest> {
    const [agent, headers] = await Promise.all([
      this.connection.agent(),
      this.connection.headers(),
    ]);
    return { method, agent, headers: { ...headers, accept: 'application/json' } };
  }

  private async url(path: string, query: Query = {}): Promise<URL> {
    const url = new URL((await this.connection.server()) + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  /**
   * A watch (`watch=true`, one JSON event per line), as client-node's Watch: `onEvent` per
   * event, `done` once, when the server ends it, it fails, or it is aborted.
   */
  async watch(
    path: string,
    query: Query,
    onEvent: (type: string, object: never) => void,
    done: (error: (Error & { statusCode?: number }) | null) => void,
  ): Promise<WatchHandle> {
    const controller = new AbortController();
    let finished = false;
    const finish = (error: (Error & { statusCode?: number }) | null) => {
      if (finished) return;
      finished = true;
      controller.abort();
      done(error);
    };
    try {
      const url = await this.url(path, { ...query, watch: true });
      const init = await this.init('GET');
      const body = await send(url, { ...init, signal: controller.signal });
      if (body.statusCode !== 200) {
        body.resume();
        const error: Error & { statusCode?: number } = new Error(
          body.statusMessage || http.STATUS_CODES[body.statusCode ?? 0] || 'watch failed',
        );
        error.statusCode = body.statusCode;
        throw error;
      }
      const failed = (error: Error) => finish(controller.signal.aborted ? null : error);
      body.on('error', failed);
      body.on('close', () => finish(null));
      const lines = createInterface({ input: body });
      // readline passes its input's errors on (an abort is one).
      lines.on('error', failed);
      lines.on('close', () => finish(null));
      lines.on('line', (line) => {
        try {
          const event = JSON.parse(line) as { type: string; object: never };
          onEvent(event.type, event.object);
        } catch {
          // a line cut by a closing connection: the next watch resumes from the last version
        }
      });
    } catch (error) {
      finish(controller.signal.aborted ? null : (error as Error));
    }
    return controller;
  }

  async request<T>(
    method: string,
    path: string,
    options: { query?: Query; body?: unknown; contentType?: string } = {},
  ): Promise<T> {
    const url = await this.url(path, options.query);
    this.onRequest?.(method, resourceOfPath(path));
    const init = await this.init(method);
    if (options.body !== undefined) {
      init.headers['content-type'] = options.contentType ?? 'application/json';
      init.body = JSON.stringify(options.body);
    }
    const response = await send(url, init);
    const text = await readText(response);
    const status = response.statusCode ?? 0;
    const ok = status >= 200 && status < 300;
    // Errors are usually a JSON Status, but a 404 outside any API group is plain text.
    let body: { reason?: string; message?: string; details?: unknown } | undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      if (ok)
        throw new Error(
          `${method} ${path}: the API server answered with non-JSON: ${text.slice(0, 200)}`,
        );
    }
    if (!ok) {
      throw new KubeApiError(
        status,
        body?.reason ?? response.statusMessage ?? http.STATUS_CODES[status] ?? String(status),
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
