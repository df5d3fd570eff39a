/** One SQL query on a service's database, as a test looks at it (not through the service). */
export { queryDatabase as query } from '@warren/testing';

export interface HttpAnswer<B = Record<string, unknown>> {
  status: number;
  body: B;
  headers: Headers;
}

/** A JSON request; `body` given as a string is sent as is (for malformed JSON). */
export async function http<B = Record<string, unknown>>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer<B>> {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: (text ? JSON.parse(text) : undefined) as B,
    headers: response.headers,
  };
}

/** Every service's checks once the platform runs: its database's, and the worker's or its own broker's. */
export const READY_CHECKS = ['broker', 'database', 'migrations', 'topology'];

/** `/readyz` of a service: its status and the names of the checks it ran, sorted. */
export async function readiness(serviceUrl: string): Promise<{ status: number; checks: string[] }> {
  const answer = await http<{ checks: { name: string }[] }>('GET', `${serviceUrl}/readyz`);
  return { status: answer.status, checks: answer.body.checks.map((c) => c.name).sort() };
}
