/**
 * A minimal RabbitMQ management API call for test set-up. Node's fetch refuses URLs that carry
 * credentials, so they are moved from the URL into a Basic authorization header.
 */
export async function managementRequest<T = unknown>(
  managementUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const url = new URL(managementUrl);
  const auth = Buffer.from(
    `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
  ).toString('base64');
  url.username = '';
  url.password = '';
  const send = () =>
    fetch(new URL(path, url), {
      method,
      headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  // RabbitMQ 4.x's HTTP server closes idle keep-alive connections that the client may just be
  // reusing ("other side closed"): a request that never reached the broker is sent once more.
  const response = await send().catch((error: Error) => {
    if (!isClosedSocket(error)) throw error;
    return send();
  });
  if (!response.ok) {
    throw new Error(`${method} ${path} -> ${response.status} ${await response.text()}`);
  }
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

function isClosedSocket(error: Error): boolean {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code === 'UND_ERR_SOCKET' || cause?.code === 'ECONNRESET';
}

/** The version of the broker the run's management URL answers for (`/api/overview`), e.g. `4.3.6`. */
export async function brokerVersion(
  managementUrl = process.env.RABBITMQ_MANAGEMENT_URL ?? '',
): Promise<string> {
  const overview = await managementRequest<{ rabbitmq_version: string }>(
    managementUrl,
    'GET',
    '/api/overview',
  );
  return overview.rabbitmq_version;
}
