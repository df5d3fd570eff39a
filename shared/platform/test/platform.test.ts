/**
 * End to end through HTTP: the three services as child processes (compiled, as `npm start` runs
 * them) on the examples' topology applied by the Warren engine into a fresh vhost, each with a
 * fresh database. Outcomes are polled for, never waited for with fixed sleeps.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { eventually, managementRequest } from '@warren/testing';
import { startIsolatedPlatform, type IsolatedPlatform } from '../src';
import { http, query, readiness, READY_CHECKS } from './support/test-platform';

const ORDER_TIMEOUT_MS = 8_000;

let platform: IsolatedPlatform;
const url = (service: 'user-service' | 'order-service' | 'notification-service', route: string) =>
  `${platform.services[service].url}${route}`;

beforeAll(async () => {
  platform = await startIsolatedPlatform('e2e', {
    LOG_LEVEL: 'info',
    ORDER_TIMEOUT_MS: String(ORDER_TIMEOUT_MS),
    ORDER_SWEEP_INTERVAL_MS: '250',
  });
}, 300_000);

afterAll(async () => {
  await platform?.dispose();
}, 120_000);

interface Order {
  id: string;
  status: string;
  cancelReason: string | null;
  history: { type: string; toStatus: string; reason: string | null; detail: string | null }[];
}
interface Notification {
  kind: string;
  orderId: string | null;
}

async function registerUser(headers: Record<string, string> = {}): Promise<string> {
  const answer = await http(
    'POST',
    url('user-service', '/users'),
    { email: `${randomUUID()}@example.com`, name: 'Ada Lovelace' },
    headers,
  );
  expect(answer.status).toBe(201);
  return answer.body.id as string;
}

const orderBody = (userId: string) => ({
  userId,
  items: [{ sku: 'BOOK-42', quantity: 2, unitPrice: 12.5 }],
});

async function placeOrder(userId: string): Promise<Order> {
  const answer = await http<Order>('POST', url('order-service', '/orders'), orderBody(userId));
  expect(answer.status).toBe(201);
  expect(answer.body.status).toBe('PENDING');
  return answer.body;
}

const settled = (orderId: string) =>
  eventually(`order ${orderId} to leave PENDING`, async () => {
    const { body } = await http<Order>('GET', url('order-service', `/orders/${orderId}`));
    return body.status === 'PENDING' ? undefined : body;
  });

const notificationsOf = (userId: string) =>
  http<Notification[]>('GET', url('notification-service', `/notifications?userId=${userId}`)).then(
    (a) => a.body,
  );

const notified = (userId: string, kind: string, orderId: string | null = null) =>
  eventually(`a ${kind} notification for user ${userId}`, async () =>
    (await notificationsOf(userId)).find((n) => n.kind === kind && n.orderId === orderId),
  );

const logOf = (service: string) =>
  readFileSync(path.join(platform.stateDir, 'logs', `${service}.log`), 'utf8');

describe('the platform, end to end', () => {
  it('is ready: database, migrations, broker and topology checks pass in every service', async () => {
    for (const service of Object.values(platform.services)) {
      expect(await readiness(service.url)).toEqual({ status: 200, checks: READY_CHECKS });
    }
  });

  it('registration reaches a welcome notification, one correlation id from the header to every log line', async () => {
    const correlationId = `e2e-${randomUUID()}`;
    const userId = await registerUser({ 'X-Correlation-Id': correlationId });
    await notified(userId, 'welcome');
    // Log lines reach the file within a second (buffered writes).
    const welcomeLine = await eventually("the welcome in notification-service's log", async () =>
      logOf('notification-service')
        .split('\n')
        .find((line) => line.includes('notification for user.created') && line.includes(userId)),
    );
    expect(JSON.parse(welcomeLine)).toMatchObject({ correlationId, userId, recorded: true });
    await eventually("the correlation id in user-service's log", async () =>
      logOf('user-service').includes(`"correlationId":"${correlationId}"`),
    );
  });

  it('a backlog is consumed in shared Prisma transactions, each welcome recorded once', async () => {
    const notifications = platform.services['notification-service'];
    await notifications.kill();
    // The events wait in the queue, so the restarted consumer gets them in one go.
    const userIds = await Promise.all(Array.from({ length: 30 }, () => registerUser()));
    notifications.start();
    await notifications.waitReady();
    for (const userId of userIds) await notified(userId, 'welcome');
    for (const userId of userIds) {
      const welcomes = (await notificationsOf(userId)).filter((n) => n.kind === 'welcome');
      expect(welcomes).toHaveLength(1);
    }
    const metrics = await fetch(url('notification-service', '/metrics')).then((r) => r.text());
    const sample = (name: string) =>
      metrics
        .split('\n')
        .filter((line) => line.startsWith(name) && line.includes('user-created'))
        .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    const messages = sample('warren_messaging_consumer_batch_messages_sum');
    const batches = sample('warren_messaging_consumer_batch_messages_count');
    expect(messages).toBeGreaterThanOrEqual(userIds.length);
    expect(batches).toBeLessThan(messages);
  }, 120_000);

  it('confirmed path: PENDING, then CONFIRMED through the saga, with its history and a notification', async () => {
    const userId = await registerUser();
    const order = await placeOrder(userId);
    const done = await settled(order.id);
    expect(done.status).toBe('CONFIRMED');
    expect(done.history.map((h) => h.toStatus)).toEqual(['PENDING', 'CONFIRMED']);
    await notified(userId, 'order-confirmed', order.id);
  });

  it("rejected path: a blocked user's order is CANCELLED with the reason in its history", async () => {
    const userId = await registerUser();
    expect(
      (await http('PUT', url('user-service', `/users/${userId}/blocked`), { blocked: true }))
        .status,
    ).toBe(200);
    const order = await placeOrder(userId);
    const done = await settled(order.id);
    expect(done).toMatchObject({ status: 'CANCELLED', cancelReason: 'user-rejected' });
    expect(done.history[1]).toMatchObject({
      type: 'order.cancelled',
      reason: 'user-rejected',
      detail: 'user-blocked',
    });
    await notified(userId, 'order-cancelled', order.id);
  });

  it('an order for a user that does not exist is accepted PENDING and ends CANCELLED (user-not-found)', async () => {
    const order = await placeOrder(randomUUID());
    const done = await settled(order.id);
    expect(done).toMatchObject({ status: 'CANCELLED', cancelReason: 'user-rejected' });
    expect(done.history[1]).toMatchObject({ detail: 'user-not-found' });
  });

  it('the same POST /orders with the same Idempotency-Key twice creates one order and answers the same', async () => {
    const userId = await registerUser();
    const key = { 'Idempotency-Key': randomUUID() };
    const first = await http<Order>(
      'POST',
      url('order-service', '/orders'),
      orderBody(userId),
      key,
    );
    const second = await http<Order>(
      'POST',
      url('order-service', '/orders'),
      orderBody(userId),
      key,
    );
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const rows = await query<{ n: number }>(
      platform.databases['order-service'],
      'SELECT count(*)::int AS n FROM orders WHERE user_id = $1',
      [userId],
    );
    expect(rows[0]!.n).toBe(1);
    expect((await settled(first.body.id)).status).toBe('CONFIRMED');
  });

  describe('bad input', () => {
    const counts = async () => {
      const orderDb = platform.databases['order-service'];
      const [row] = await query<{ orders: number; items: number; events: number; outbox: number }>(
        orderDb,
        `SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM order_items)::int AS items,
                (SELECT count(*) FROM order_events)::int AS events, (SELECT count(*) FROM warren_outbox)::int AS outbox`,
      );
      return row;
    };

    it('answers 400 naming the problem, and leaves no row behind', async () => {
      const before = await counts();
      const post = (body: unknown) =>
        http<{ message: string }>('POST', url('order-service', '/orders'), body);
      const userId = randomUUID();

      const malformed = await post('{"userId": "x", "items": [');
      expect(malformed.status).toBe(400);
      expect(malformed.body.message).toMatch(/Malformed JSON/);

      const missing = await post({ items: [{ sku: 'A', quantity: 1, unitPrice: 1 }] });
      expect(missing.status).toBe(400);
      expect(missing.body.message).toMatch(/userId/);

      const noItems = await post({ userId });
      expect(noItems.status).toBe(400);
      expect(noItems.body.message).toMatch(/items/);

      const illTyped = await post({ userId, items: [{ sku: 'A', quantity: 'two', unitPrice: 1 }] });
      expect(illTyped.status).toBe(400);
      expect(illTyped.body.message).toMatch(/items\[0\]\.quantity/);

      const nonPositive = await post({ userId, items: [{ sku: 'A', quantity: 0, unitPrice: 1 }] });
      expect(nonPositive.status).toBe(400);
      expect(nonPositive.body.message).toMatch(/items\[0\]\.quantity: quantity must be at least 1/);

      const badEmail = await http<{ message: string }>('POST', url('user-service', '/users'), {
        email: 'not-an-email',
        name: 'X',
      });
      expect(badEmail.status).toBe(400);
      expect(badEmail.body.message).toMatch(/email/);

      expect(await counts()).toEqual(before);
    });

    it('answers 404 for an unknown order id and 409 for cancelling a CONFIRMED order', async () => {
      const unknown = randomUUID();
      const missing = await http<{ message: string }>(
        'GET',
        url('order-service', `/orders/${unknown}`),
      );
      expect(missing.status).toBe(404);
      expect(missing.body.message).toContain(`order ${unknown} does not exist`);
      const cancelMissing = await http<{ message: string }>(
        'POST',
        url('order-service', `/orders/${unknown}/cancel`),
      );
      expect(cancelMissing.status).toBe(404);

      const order = await placeOrder(await registerUser());
      expect((await settled(order.id)).status).toBe('CONFIRMED');
      const before = await counts();
      const conflict = await http<{ message: string }>(
        'POST',
        url('order-service', `/orders/${order.id}/cancel`),
      );
      expect(conflict.status).toBe(409);
      expect(conflict.body.message).toContain(
        `order ${order.id} is CONFIRMED; only PENDING orders can be cancelled`,
      );
      expect(await counts()).toEqual(before);
    });
  });

  describe('while user-service is down (no saga answers)', () => {
    const users = () => platform.services['user-service'];
    let userId: string;

    beforeAll(async () => {
      userId = await registerUser();
      await users().stop();
    }, 60_000);

    afterAll(async () => {
      users().start();
      await users().waitReady();
    }, 120_000);

    it('client cancel: a PENDING order is CANCELLED by POST /orders/:id/cancel', async () => {
      const order = await placeOrder(userId);
      const cancelled = await http<Order>(
        'POST',
        url('order-service', `/orders/${order.id}/cancel`),
      );
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({
        status: 'CANCELLED',
        cancelReason: 'client-cancelled',
      });
      await notified(userId, 'order-cancelled', order.id);
    });

    it(
      'timeout path: no answer within ORDER_TIMEOUT_MS cancels the order with reason timeout',
      async () => {
        const order = await placeOrder(userId);
        const done = await eventually(
          `order ${order.id} to time out`,
          async () => {
            const { body } = await http<Order>('GET', url('order-service', `/orders/${order.id}`));
            return body.status === 'PENDING' ? undefined : body;
          },
          ORDER_TIMEOUT_MS + 30_000,
        );
        expect(done).toMatchObject({ status: 'CANCELLED', cancelReason: 'timeout' });
      },
      ORDER_TIMEOUT_MS + 60_000,
    );
  });

  it('order-service killed (SIGKILL) after its commit, before the publish: the outbox delivers after restart', async () => {
    const orders = platform.services['order-service'];
    const userId = await registerUser();
    // The exchange order-service publishes to is deleted behind the engine's back: its relay
    // cannot publish, so the committed event stays in the outbox.
    await managementRequest(
      platform.broker.managementUrl,
      'DELETE',
      `/api/exchanges/${encodeURIComponent(platform.broker.vhost)}/order.events`,
    );
    const order = await placeOrder(userId);
    const unsent = () =>
      query<{ n: number; attempts: number }>(
        platform.databases['order-service'],
        'SELECT count(*)::int AS n, coalesce(max(attempts), 0)::int AS attempts FROM warren_outbox WHERE aggregate_key = $1 AND sent_at IS NULL',
        [order.id],
      ).then((rows) => rows[0]!);
    await eventually('a failed publish attempt', async () =>
      (await unsent()).attempts > 0 ? true : undefined,
    );

    await orders.kill();
    expect((await unsent()).n).toBe(1);

    await platform.reapplyTopology();
    // The suite's short order timeout (for the timeout path) would race the restart on a busy
    // machine: the restarted service's sweeper must not cancel the order it is to deliver.
    orders.start({ ORDER_TIMEOUT_MS: String(10 * 60_000) });
    await orders.waitReady();
    const done = await settled(order.id);
    expect(done.status).toBe('CONFIRMED');
    // CONFIRMED commits an order.confirmed row of its own: the relay sends it a moment later.
    await eventually('every outbox row of the order sent', async () =>
      (await unsent()).n === 0 ? true : undefined,
    );
    await notified(userId, 'order-confirmed', order.id);
  }, 180_000);
});
