/**
 * A RabbitMQ management HTTP API client on Node's fetch (undici keeps connections alive).
 * It counts its calls, so benchmarks and the CLI can report what a plan or apply cost.
 */
export class ManagementError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} ${path}: HTTP ${status} ${body}`);
    this.name = 'ManagementError';
  }
}

/** One node's management API: its base URL (no credentials) and Basic authorization. */
interface ManagementNode {
  base: URL;
  authorization: string;
}

function managementNode(url: string): ManagementNode {
  const parsed = new URL(url);
  if (!parsed.username)
    throw new Error(
      `management URL ${parsed.origin} has no credentials (http://user:password@host:port)`,
    );
  const authorization = `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`;
  parsed.username = '';
  parsed.password = '';
  return { base: parsed, authorization };
}

/** A node that cannot answer at all (down, unreachable, or not serving its API yet). */
export class NoLiveNodeError extends Error {
  override name = 'NoLiveNodeError';
}

export class ManagementClient {
  private readonly nodes: ManagementNode[];
  /** The node calls go to: the first that answered; another is tried when it stops answering. */
  private current = 0;
  /** HTTP requests made so far. */
  calls = 0;
  /** Of those, the ones answered 404 Not Found (a delete pass should make none). */
  notFound = 0;
  /** Upper bound of one call (WARREN_BROKER_TIMEOUT_SECONDS, default 300). */
  timeoutMs = Number(process.env.WARREN_BROKER_TIMEOUT_SECONDS ?? 300) * 1000;

  /**
   * `url` is the management API base, credentials in it: http://user:pass@host:15672; or the
   * nodes of a cluster, any of which serves the whole cluster's API.
   */
  constructor(url: string | readonly string[]) {
    const urls = typeof url === 'string' ? [url] : url;
    if (urls.length === 0) throw new Error('no management URL');
    this.nodes = urls.map(managementNode);
  }

  /** The URL of the node in use, without credentials, for messages. */
  get origin(): string {
    return this.nodes[this.current]!.base.origin;
  }

  private version?: Promise<string>;

  /** The broker's RabbitMQ version (`/api/overview`), asked once per client. */
  brokerVersion(): Promise<string> {
    this.version ??= this.request<{ rabbitmq_version?: string }>('GET', '/api/overview').then(
      (overview) => {
        if (!overview?.rabbitmq_version) throw new Error('GET /api/overview: no rabbitmq_version');
        return overview.rabbitmq_version;
      },
    );
    // A failed ask is not remembered: the next call asks again.
    this.version.catch(() => (this.version = undefined));
    return this.version;
  }

  /** GET that returns undefined on 404. */
  async find<T>(path: string): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', path);
    } catch (error) {
      if (error instanceof ManagementError && error.status === 404) return undefined;
      throw error;
    }
  }

  /**
   * One call, to the node in use; when that node cannot be reached (connection refused or reset,
   * no answer in time, HTTP 503 while it boots or leaves) to the next one, which is then kept.
   * An HTTP error the node did answer (404, 400, ...) is the broker's answer: never retried.
   */
  async request<T = unknown>(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<T> {
    this.calls += 1;
    const failures: string[] = [];
    for (let tried = 0; tried < this.nodes.length; tried++) {
      const index = (this.current + tried) % this.nodes.length;
      const node = this.nodes[index]!;
      let response: Response;
      try {
        response = await this.send(node, method, path, body);
      } catch (error) {
        // One node: its own error, as ever. A POST may have been applied before the connection
        // broke: not sent again.
        if (this.nodes.length === 1) throw error;
        if (method === 'POST' && !isConnectFailure(error as Error)) throw error;
        failures.push(`${node.base.origin}: ${describeFetchError(error as Error)}`);
        continue;
      }
      const text = await response.text();
      if (response.status === 503 && this.nodes.length > 1) {
        failures.push(`${node.base.origin}: HTTP 503 ${text}`.trim());
        continue;
      }
      this.current = index;
      if (response.status === 404) this.notFound += 1;
      if (!response.ok) throw new ManagementError(method, path, response.status, text);
      return (text ? JSON.parse(text) : undefined) as T;
    }
    throw new NoLiveNodeError(
      `${method} ${path}: no management API answered (${failures.join('; ')})`,
    );
  }

  private async send(
    node: ManagementNode,
    method: string,
    path: string,
    body: unknown,
  ): Promise<Response> {
    const send = () =>
      fetch(new URL(path, node.base), {
        method,
        headers: { authorization: node.authorization, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        // A call the broker never answers must fail (and be retried with backoff), not hang the
        // reconcile forever: large definition imports take minutes, so the bound is generous.
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    // RabbitMQ 4.x closes idle keep-alive connections that may be just then reused ("other side
    // closed"): an idempotent call (every one but POST) is sent once more on a fresh connection.
    return send().catch((error: Error) => {
      if (method === 'POST' || !isClosedSocket(error)) throw error;
      return send();
    });
  }
}

const causeCode = (error: Error) => (error as { cause?: { code?: string } }).cause?.code;

/** The request never reached the node: safe to send anywhere, a POST included. */
function isConnectFailure(error: Error): boolean {
  const code = causeCode(error);
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND';
}

/** fetch's own message ("fetch failed") says nothing: its cause's does. */
function describeFetchError(error: Error): string {
  const cause = (error as { cause?: { message?: string } }).cause?.message;
  return cause ? `${error.message}: ${cause}` : error.message;
}

function isClosedSocket(error: Error): boolean {
  const code = causeCode(error);
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET';
}

/** Path segment encoding for the management API (the default vhost "/" is %2F). */
export const segment = (value: string): string => encodeURIComponent(value);
