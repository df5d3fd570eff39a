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
  const response = await fetch(new URL(path, url), {
    method,
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`${method} ${path} -> ${response.status} ${await response.text()}`);
  }
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}
