/**
 * The management client given several nodes (a cluster's): a node that refuses connections is
 * passed over and the next one kept; when none answers, the error names each, never a password.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createTestVhost, type TestVhost } from '@warren/testing';
import { ManagementClient, NoLiveNodeError } from '../src/broker/client';

let vhost: TestVhost;

/** A local port nothing listens on. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return `http://admin:pa55word@127.0.0.1:${port}/`;
}

beforeAll(async () => {
  vhost = await createTestVhost('management_failover');
});

afterAll(async () => {
  await vhost?.dispose();
});

it('passes over a node that is down and keeps the one that answers', async () => {
  const down = await closedPortUrl();
  const live = new URL(vhost.managementUrl);
  const client = new ManagementClient([down, vhost.managementUrl]);
  expect(await client.brokerVersion()).toMatch(/^\d+\.\d+/);
  expect(client.origin).toBe(live.origin);
  // Writes too, and the broker's own answers (404) are not taken for a dead node.
  await client.request('PUT', `/api/exchanges/${encodeURIComponent(vhost.vhost)}/failover.x`, {
    type: 'fanout',
    durable: true,
  });
  expect(
    await client.find(`/api/queues/${encodeURIComponent(vhost.vhost)}/absent`),
  ).toBeUndefined();
  expect(client.origin).toBe(live.origin);
});

it('names every node when none answers, without the credentials', async () => {
  const client = new ManagementClient([await closedPortUrl(), await closedPortUrl()]);
  const error = await client.request('GET', '/api/overview').catch((e: Error) => e);
  expect(error).toBeInstanceOf(NoLiveNodeError);
  expect((error as Error).message).toMatch(
    /^GET \/api\/overview: no management API answered \(http:\/\/127\.0\.0\.1:\d+: fetch failed: connect ECONNREFUSED .*; http:\/\/127\.0\.0\.1:\d+: /,
  );
  expect((error as Error).message).not.toContain('pa55word');
});
