import type { INestApplication } from '@nestjs/common';
import {
  countRows,
  createMigratedTestDatabase,
  startTestApp,
  TableOutbox,
} from '@warren/service-kit/testing';
import { SqlTransactions, type SqlTx } from '@warren/service-kit';
import type { TestDatabase } from '@warren/testing';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import request from 'supertest';
import { AppModule, SERVICE } from '../src/app.module';
import { PrismaService } from '../src/database/prisma.service';
import { OrderSaga } from '../src/orders/order-saga';
import { OrderTimeoutSweeper } from '../src/orders/order-timeout-sweeper';

const TIMEOUT_MS = 60_000;
let database: TestDatabase;
let outbox: TableOutbox;
let app: INestApplication;
const http = () => request(app.getHttpServer());

beforeAll(async () => {
  database = await createMigratedTestDatabase(join(__dirname, '..'), 'order_service');
  outbox = new TableOutbox(database.url);
  await outbox.createTable();
  app = await startTestApp(
    AppModule.forRoot({
      databaseUrl: database.url,
      messaging: { kind: 'outbox', outbox },
      timeouts: { timeoutMs: TIMEOUT_MS, sweepIntervalMs: 0 },
    }),
    SERVICE.name,
  );
});

afterAll(async () => {
  await app?.close();
  await database?.dispose();
});

const anOrder = (overrides: Record<string, unknown> = {}) => ({
  userId: randomUUID(),
  items: [
    { sku: 'BOOK-1', quantity: 2, unitPrice: 12.5 },
    { sku: 'PEN-7', quantity: 1, unitPrice: 0.99 },
  ],
  ...overrides,
});

async function placeOrder(body = anOrder()): Promise<{ id: string; userId: string }> {
  return (await http().post('/orders').send(body).expect(201)).body;
}

const eventsOf = async (orderId: string) =>
  (await outbox.events()).filter((e) => e.payload.orderId === orderId);
/** The saga in a transaction like the consumer's (the service's pool, no ORM). */
const inTransaction = <T>(work: (saga: OrderSaga, tx: SqlTx) => Promise<T>) =>
  app.get(SqlTransactions).$transaction((tx) => work(app.get(OrderSaga), tx));

describe('POST /orders', () => {
  it('creates a PENDING order with its items, total, first history row and order.created', async () => {
    const body = anOrder();
    const res = await http().post('/orders').send(body).expect(201);
    expect(res.body).toMatchObject({
      userId: body.userId,
      status: 'PENDING',
      currency: 'EUR',
      total: 25.99,
      cancelReason: null,
      items: [
        { sku: 'BOOK-1', quantity: 2, unitPrice: 12.5 },
        { sku: 'PEN-7', quantity: 1, unitPrice: 0.99 },
      ],
      history: [
        {
          type: 'order.created',
          fromStatus: null,
          toStatus: 'PENDING',
          reason: null,
          detail: null,
        },
      ],
    });
    expect(await eventsOf(res.body.id)).toEqual([
      {
        type: 'order.created',
        payload: {
          orderId: res.body.id,
          userId: body.userId,
          items: [
            { sku: 'BOOK-1', quantity: 2, unitPriceCents: 1250 },
            { sku: 'PEN-7', quantity: 1, unitPriceCents: 99 },
          ],
          totalCents: 2599,
          currency: 'EUR',
        },
      },
    ]);
    expect((await http().get(`/orders/${res.body.id}`).expect(200)).body).toEqual(res.body);
  });

  it.each([
    [
      'a non-positive quantity',
      anOrder({ items: [{ sku: 'A', quantity: 0, unitPrice: 1 }] }),
      'items[0].quantity',
      'quantity must be at least 1',
    ],
    [
      'a negative price',
      anOrder({ items: [{ sku: 'A', quantity: 1, unitPrice: -1 }] }),
      'items[0].unitPrice',
      'unitPrice must not be negative',
    ],
    [
      'a quantity given as text',
      anOrder({ items: [{ sku: 'A', quantity: '2', unitPrice: 1 }] }),
      'items[0].quantity',
      'quantity must be a whole number',
    ],
    ['no items', anOrder({ items: [] }), 'items', 'items must contain at least one item'],
    [
      'a missing userId',
      { items: [{ sku: 'A', quantity: 1, unitPrice: 1 }] },
      'userId',
      'userId must be a UUID',
    ],
    [
      'a missing sku',
      anOrder({ items: [{ quantity: 1, unitPrice: 1 }] }),
      'items[0].sku',
      'sku must not be blank and must not contain NUL characters',
    ],
  ])(
    'answers 400 for %s, naming the field, and creates nothing',
    async (_, body, field, problem) => {
      const before = await countRows(database.url, 'orders');
      const res = await http().post('/orders').send(body).expect(400);
      expect(res.body.fields).toContainEqual(
        expect.objectContaining({ field, problems: expect.arrayContaining([problem]) }),
      );
      expect(res.body.message).toContain(`${field}: `);
      expect(await countRows(database.url, 'orders')).toBe(before);
    },
  );

  it('answers 400 for malformed JSON', async () => {
    const res = await http()
      .post('/orders')
      .set('Content-Type', 'application/json')
      .send('{"userId": ')
      .expect(400);
    expect(res.body.message).toMatch(/^Malformed JSON in request body/);
  });

  it('creates one order for two POSTs with the same Idempotency-Key', async () => {
    const body = anOrder();
    const ordersBefore = await countRows(database.url, 'orders');
    const first = await http()
      .post('/orders')
      .set('Idempotency-Key', 'order-key-1')
      .send(body)
      .expect(201);
    const again = await http()
      .post('/orders')
      .set('Idempotency-Key', 'order-key-1')
      .send(body)
      .expect(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await countRows(database.url, 'orders')).toBe(ordersBefore + 1);
    expect(await eventsOf(first.body.id)).toHaveLength(1);
  });

  it('creates one order when the same Idempotency-Key arrives twice at the same time', async () => {
    const body = anOrder();
    const ordersBefore = await countRows(database.url, 'orders');
    const [a, b] = await Promise.all([
      http().post('/orders').set('Idempotency-Key', 'order-key-race').send(body),
      http().post('/orders').set('Idempotency-Key', 'order-key-race').send(body),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).toBe(b.body.id);
    expect(await countRows(database.url, 'orders')).toBe(ordersBefore + 1);
  });
});

describe('GET /orders/:id', () => {
  it('answers 404 for an unknown order', async () => {
    const id = randomUUID();
    const res = await http().get(`/orders/${id}`).expect(404);
    expect(res.body.message).toBe(`order ${id} does not exist`);
  });
});

describe('the saga', () => {
  it('confirms on user.validated: history row and order.confirmed citing the cause', async () => {
    const order = await placeOrder();
    const outcome = await inTransaction((saga, tx) =>
      saga.handleUserValidated(tx, {
        id: 'evt-v1',
        type: 'user.validated',
        correlationId: 'c',
        payload: { orderId: order.id, userId: order.userId },
      }),
    );
    expect(outcome).toEqual({ changed: true, status: 'CONFIRMED' });
    const view = (await http().get(`/orders/${order.id}`).expect(200)).body;
    expect(view.status).toBe('CONFIRMED');
    expect(
      view.history.map((h: { type: string; toStatus: string }) => [h.type, h.toStatus]),
    ).toEqual([
      ['order.created', 'PENDING'],
      ['order.confirmed', 'CONFIRMED'],
    ]);
    expect((await eventsOf(order.id))[1]).toEqual({
      type: 'order.confirmed',
      payload: { orderId: order.id, userId: order.userId, totalCents: 2599, currency: 'EUR' },
      causationId: 'evt-v1',
    });
  });

  it('cancels on user.rejected with reason user-rejected and the rejection in the history', async () => {
    const order = await placeOrder();
    await inTransaction((saga, tx) =>
      saga.handleUserRejected(tx, {
        id: 'evt-r1',
        type: 'user.rejected',
        correlationId: 'c',
        payload: { orderId: order.id, userId: order.userId, reason: 'user-not-found' },
      }),
    );
    const view = (await http().get(`/orders/${order.id}`).expect(200)).body;
    expect(view).toMatchObject({ status: 'CANCELLED', cancelReason: 'user-rejected' });
    expect(view.history[1]).toMatchObject({
      type: 'order.cancelled',
      fromStatus: 'PENDING',
      toStatus: 'CANCELLED',
      reason: 'user-rejected',
      detail: 'user-not-found',
    });
    expect((await eventsOf(order.id))[1]).toEqual({
      type: 'order.cancelled',
      payload: { orderId: order.id, userId: order.userId, reason: 'user-rejected' },
      causationId: 'evt-r1',
    });
  });

  it('ignores a late answer once the order is final: no second transition, no second event', async () => {
    const order = await placeOrder();
    await inTransaction((saga, tx) => saga.cancel(tx, order.id, 'timeout'));
    const late = await inTransaction((saga, tx) => saga.confirm(tx, order.id));
    expect(late).toEqual({ changed: false, status: 'CANCELLED' });
    expect((await eventsOf(order.id)).map((e) => e.type)).toEqual([
      'order.created',
      'order.cancelled',
    ]);
  });

  it("tells the loser of a race the winner's status, not the PENDING it read before the lock", async () => {
    const order = await placeOrder();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let cancelled!: () => void;
    const cancelDone = new Promise<void>((resolve) => (cancelled = resolve));
    // The cancel holds the row lock, uncommitted, while the confirm's statement starts and waits.
    const cancel = inTransaction(async (saga, tx) => {
      const outcome = await saga.cancel(tx, order.id, 'client-cancelled');
      cancelled();
      await gate;
      return outcome;
    });
    await cancelDone;
    const confirm = inTransaction((saga, tx) => saga.confirm(tx, order.id));
    await new Promise((resolve) => setTimeout(resolve, 300)); // the confirm is blocked on the lock
    release();
    expect(await cancel).toEqual({ changed: true, status: 'CANCELLED' });
    expect(await confirm).toEqual({ changed: false, status: 'CANCELLED' });
    expect((await eventsOf(order.id)).map((e) => e.type)).toEqual([
      'order.created',
      'order.cancelled',
    ]);
  });

  it('answers "no such order" for an unknown or malformed order id, and writes nothing', async () => {
    const historyBefore = await countRows(database.url, 'order_events');
    for (const orderId of [randomUUID(), 'not-a-uuid']) {
      const outcome = await inTransaction((saga, tx) =>
        saga.handleUserValidated(tx, {
          id: `evt-${orderId}`,
          type: 'user.validated',
          correlationId: 'c',
          payload: { orderId, userId: randomUUID() },
        }),
      );
      expect(outcome).toEqual({ changed: false, status: null });
    }
    expect(await countRows(database.url, 'order_events')).toBe(historyBefore);
  });

  it('rolls back the transition when the transaction fails: no history row, no event', async () => {
    const order = await placeOrder();
    await expect(
      inTransaction(async (saga, tx) => {
        await saga.confirm(tx, order.id);
        throw new Error('consumer failed after the transition');
      }),
    ).rejects.toThrow('consumer failed');
    expect((await http().get(`/orders/${order.id}`)).body.status).toBe('PENDING');
    expect(await eventsOf(order.id)).toHaveLength(1);
  });
});

describe('POST /orders/:id/cancel', () => {
  it('cancels a PENDING order with reason client-cancelled', async () => {
    const order = await placeOrder();
    const res = await http().post(`/orders/${order.id}/cancel`).expect(200);
    expect(res.body).toMatchObject({ status: 'CANCELLED', cancelReason: 'client-cancelled' });
    expect(res.body.history.map((h: { reason: string | null }) => h.reason)).toEqual([
      null,
      'client-cancelled',
    ]);
  });

  it('answers 409 for a CONFIRMED order and changes nothing', async () => {
    const order = await placeOrder();
    await inTransaction((saga, tx) => saga.confirm(tx, order.id));
    const res = await http().post(`/orders/${order.id}/cancel`).expect(409);
    expect(res.body.message).toBe(
      `order ${order.id} is CONFIRMED; only PENDING orders can be cancelled`,
    );
    expect((await http().get(`/orders/${order.id}`)).body.history).toHaveLength(2);
  });

  it('answers 404 for an unknown order, and replays the first answer for a repeated Idempotency-Key', async () => {
    await http().post(`/orders/${randomUUID()}/cancel`).expect(404);
    const order = await placeOrder();
    const first = await http()
      .post(`/orders/${order.id}/cancel`)
      .set('Idempotency-Key', 'cancel-1')
      .expect(200);
    const again = await http()
      .post(`/orders/${order.id}/cancel`)
      .set('Idempotency-Key', 'cancel-1')
      .expect(200);
    expect(again.body).toEqual(first.body);
  });
});

describe('timeout sweeper', () => {
  it('cancels orders PENDING longer than the timeout with reason timeout, and only those', async () => {
    const stale = await placeOrder();
    const confirmed = await placeOrder();
    await inTransaction((saga, tx) => saga.confirm(tx, confirmed.id));
    const fresh = await placeOrder();
    const prisma = app.get(PrismaService);
    const longAgo = new Date(Date.now() - TIMEOUT_MS - 1_000);
    await prisma.order.updateMany({
      where: { id: { in: [stale.id, confirmed.id] } },
      data: { createdAt: longAgo },
    });

    const cancelled = await app.get(OrderTimeoutSweeper).sweep();
    expect(cancelled).toContain(stale.id);
    expect(cancelled).not.toContain(confirmed.id);
    expect(cancelled).not.toContain(fresh.id);
    const view = (await http().get(`/orders/${stale.id}`)).body;
    expect(view).toMatchObject({ status: 'CANCELLED', cancelReason: 'timeout' });
    expect(view.history[1].detail).toBe(`no answer from the saga within ${TIMEOUT_MS} ms`);
    expect((await http().get(`/orders/${fresh.id}`)).body.status).toBe('PENDING');
    expect(await app.get(OrderTimeoutSweeper).sweep()).not.toContain(stale.id);
  });
});
