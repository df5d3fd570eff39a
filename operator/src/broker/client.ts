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

export class ManagementClient {
  private readonly base: URL;
  private readonly authorization: string;
  /** HTTP requests made so far. */
  calls = 0;
  /** Of those, the ones answered 404 Not Found (a delete pass should make none). */
  notFound = 0;
  /** Upper bound of one call (WARREN_BROKER_TIMEOUT_SECONDS, default 300). */
  timeoutMs = Number(process.env.WARREN_BROKER_TIMEOUT_SECONDS ?? 300) * 1000;

  /** `url` is the management API base, credentials in it: http://user:pass@host:15672. */
  constructor(url: string) {
    const parsed = new URL(url);
    if (!parsed.username)
      throw new Error(
        `management URL ${parsed.origin} has no credentials (http://user:password@host:port)`,
      );
    this.authorization = `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
    this.base = parsed;
  }

  /** The URL without credentials, for messages. */
  get origin(): string {
    return this.base.origin;
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

  async request<T = unknown>(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<T> {
    this.calls += 1;
    const send = () =>
      fetch(new URL(path, this.base), {
        method,
        headers: { authorization: this.authorization, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        // A call the broker never answers must fail (and be retried with backoff), not hang the
        // reconcile forever: large definition imports take minutes, so the bound is generous.
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    // RabbitMQ 4.x closes idle keep-alive connections that may be just then reused ("other side
    // closed"): an idempotent call (every one but POST) is sent once more on a fresh connection.
    const response = await send().catch((error: Error) => {
      if (method === 'POST' || !isClosedSocket(error)) throw error;
      return send();
    });
    const text = await response.text();
    if (response.status === 404) this.notFound += 1;
    if (!response.ok) throw new ManagementError(method, path, response.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

function isClosedSocket(error: Error): boolean {
  const code = (error as { cause?: { code?: string } }).cause?.code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET';
}

/** Path segment encoding for the management API (the default vhost "/" is %2F). */
export const segment = (value: string): string => encodeURIComponent(value);
