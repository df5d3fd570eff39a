/**
 * The services with MESSAGING_WORKER=true, compiled, as `npm start` and the images run them: HTTP
 * on the main thread; the relay, the consumers and the background work on the messaging worker
 * thread. Checked from the
 * outside, as an operator sees a service: one /metrics with both threads' series, /readyz with
 * the worker's checks, the worker's lines whole in the service's log, a graceful stop, a worker
 * that cannot start taking the service down with its reason, and MESSAGING_WORKER=false.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { eventually, managementRequest } from '@warren/testing';
import { startIsolatedPlatform, type IsolatedPlatform, type ServiceName } from '../src';
import { http, readiness, READY_CHECKS } from './support/test-platform';

const WORKER_LINE = 'relay and consumers run in the messaging worker thread';
let platform: IsolatedPlatform;

beforeAll(async () => {
  platform = await startIsolatedPlatform('worker', { LOG_LEVEL: 'info', MESSAGING_WORKER: 'true' });
}, 300_000);

afterAll(async () => {
  await platform?.dispose();
}, 120_000);

const service = (name: ServiceName) => platform.services[name];
const logOf = (name: ServiceName) =>
  readFileSync(path.join(platform.stateDir, 'logs', `${name}.log`), 'utf8');

/** A user and a confirmed order: work for every service's worker (relay and consumers). */
async function confirmedOrder(): Promise<string> {
  const user = await http('POST', `${service('user-service').url}/users`, {
    email: `${randomUUID()}@example.com`,
    name: 'Grace Hopper',
  });
  expect(user.status).toBe(201);
  const order = await http('POST', `${service('order-service').url}/orders`, {
    userId: user.body.id,
    items: [{ sku: 'BOOK-7', quantity: 1, unitPrice: 9.5 }],
  });
  expect(order.status).toBe(201);
  const orderId = order.body.id as string;
  await eventually(`order ${orderId} CONFIRMED`, async () => {
    const { body } = await http('GET', `${service('order-service').url}/orders/${orderId}`);
    return body.status === 'CONFIRMED' ? true : undefined;
  });
  return orderId;
}

/** The `# TYPE` names of an exposition, and the value of one sample. */
function exposition(text: string) {
  const types = text
    .split('\n')
    .filter((line) => line.startsWith('# TYPE '))
    .map((line) => line.split(' ')[2]);
  const sample = (series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };
  return { types, sample };
}

test('every service starts its messaging worker, and the worker says so in the log', async () => {
  for (const name of Object.keys(platform.services) as ServiceName[]) {
    // Lines reach the file within a second (buffered writes).
    await eventually(`"${WORKER_LINE}" in ${name}'s log`, async () =>
      logOf(name).includes(WORKER_LINE) ? true : undefined,
    );
  }
});

test("one /metrics holds both threads' series, each metric once, process metrics included", async () => {
  await confirmedOrder();
  const text = await fetch(`${service('order-service').url}/metrics`).then((r) => r.text());
  const { types, sample } = exposition(text);
  expect(types.length).toBe(new Set(types).size);
  // The HTTP thread's series ...
  expect(types).toEqual(
    expect.arrayContaining([
      'process_cpu_user_seconds_total',
      'process_start_time_seconds',
      'http_requests_total',
      'http_requests_shed_total',
    ]),
  );
  expect(sample('process_start_time_seconds')).toBeGreaterThan(0);
  // ... and the worker's: the relay's confirmed publishes, the consumer's handled events.
  const total = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  expect(total('warren_messaging_confirmed_total')).toBeGreaterThanOrEqual(1);
  expect(total('warren_messaging_consumed_total')).toBeGreaterThanOrEqual(1);
  // Both threads' pools: DATABASE_POOL_SIZE 10 for HTTP, MESSAGING_DATABASE_POOL_SIZE 5.
  expect(sample('database_pool_connections{state="max"}')).toBe(15);
});

test("/readyz runs the worker's broker and topology checks beside the HTTP thread's own", async () => {
  expect(await readiness(service('notification-service').url)).toEqual({
    status: 200,
    checks: READY_CHECKS,
  });
});

/** A line each service's consumer writes for the order of `confirmedOrder` (on the worker). */
const CONSUMER_LINES: Record<ServiceName, string> = {
  'user-service': 'order eligibility decided',
  'order-service': 'saga answer: user validated',
  'notification-service': 'notification for order.confirmed',
};

test("the worker's log lines reach the service's log whole: every line is one JSON object", async () => {
  const orderId = await confirmedOrder();
  for (const name of Object.keys(platform.services) as ServiceName[]) {
    // Lines reach the file within a second or two (the worker's chunks, then the HTTP thread's).
    const lines = await eventually(`${name}'s consumer line for order ${orderId}`, async () => {
      const all = logOf(name).split('\n').filter(Boolean);
      return all.some((l) => l.includes(CONSUMER_LINES[name])) ? all : undefined;
    });
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
  }
});

test('SIGTERM stops both threads in order, in time, with no fatal line', async () => {
  const orders = service('order-service');
  const before = logOf('order-service').length;
  // Nest re-raises SIGTERM once it has shut down; SIGKILL would mean it did not, within 15 s.
  expect(await orders.stop()).toEqual({ code: null, signal: 'SIGTERM' });
  const tail = logOf('order-service').slice(before);
  expect(tail).not.toContain('did not stop in time');
  expect(tail).not.toContain('"level":60');
  orders.start();
  await orders.waitReady();
  await confirmedOrder();
});

test('MESSAGING_WORKER=false (the default) runs everything on one thread; a value that is not a boolean is refused', async () => {
  const orders = service('order-service');
  await orders.stop();
  let before = logOf('order-service').length;
  orders.start({ MESSAGING_WORKER: 'false' });
  await orders.waitReady();
  await confirmedOrder();
  // The consumer's line comes after the start-up's (buffered writes, in order).
  const run = await eventually("order-service's consumer line", async () => {
    const since = logOf('order-service').slice(before);
    return since.includes(CONSUMER_LINES['order-service']) ? since : undefined;
  });
  expect(run).not.toContain(WORKER_LINE);
  const text = await fetch(`${orders.url}/metrics`).then((r) => r.text());
  expect(exposition(text).sample('database_pool_connections{state="max"}')).toBe(10);
  await orders.stop();

  before = logOf('order-service').length;
  orders.start({ MESSAGING_WORKER: 'sometimes' });
  expect((await orders.exited())?.code).toBe(1);
  expect(logOf('order-service').slice(before)).toContain(
    'MESSAGING_WORKER must be true or false, not "sometimes"',
  );

  orders.start();
  await orders.waitReady();
}, 120_000);

test('a worker that cannot start (a queue of its topology is missing) takes the service down with the reason', async () => {
  const orders = service('order-service');
  await orders.stop();
  const queue = 'order-service.user-verdict-to-order';
  const { managementUrl, vhost } = platform.broker;
  await managementRequest(
    managementUrl,
    'DELETE',
    `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`,
  );
  const before = logOf('order-service').length;
  orders.start();
  expect((await orders.exited())?.code).toBe(1);
  expect(logOf('order-service').slice(before)).toContain(queue);

  await platform.reapplyTopology();
  orders.start();
  await orders.waitReady();
  await confirmedOrder();
}, 120_000);
