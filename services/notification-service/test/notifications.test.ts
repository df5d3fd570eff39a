import type { INestApplication } from '@nestjs/common';
import { SqlTransactions } from '@warren/service-kit';
import { createMigratedTestDatabase, startTestApp } from '@warren/service-kit/testing';
import type { TestDatabase } from '@warren/testing';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import request from 'supertest';
import { AppModule, SERVICE } from '../src/app.module';
import { NotificationRecorder } from '../src/notifications/notification-recorder';

let database: TestDatabase;
let app: INestApplication;
const http = () => request(app.getHttpServer());

beforeAll(async () => {
  database = await createMigratedTestDatabase(join(__dirname, '..'), 'notification_service');
  app = await startTestApp(AppModule.forRoot({ databaseUrl: database.url }), SERVICE.name);
});

afterAll(async () => {
  await app?.close();
  await database?.dispose();
});

const consume = <P>(
  handler: 'handleUserCreated' | 'handleOrderConfirmed' | 'handleOrderCancelled',
  eventId: string,
  payload: P,
) =>
  app
    .get(SqlTransactions)
    .$transaction((tx) =>
      (app.get(NotificationRecorder)[handler] as (t: typeof tx, e: object) => Promise<boolean>)(
        tx,
        { id: eventId, type: handler, correlationId: 'c', payload },
      ),
    );

describe('notifications', () => {
  it('records one notification per event, ignores redeliveries, and lists them newest first', async () => {
    const userId = randomUUID();
    const orderId = randomUUID();
    expect(
      await consume('handleUserCreated', 'evt-u1', {
        userId,
        email: 'ada@example.com',
        name: 'Ada',
      }),
    ).toBe(true);
    expect(
      await consume('handleUserCreated', 'evt-u1', {
        userId,
        email: 'ada@example.com',
        name: 'Ada',
      }),
    ).toBe(false);
    await consume('handleOrderConfirmed', 'evt-c1', {
      orderId,
      userId,
      totalCents: 2599,
      currency: 'EUR',
    });
    await consume('handleOrderCancelled', 'evt-x1', {
      orderId: randomUUID(),
      userId,
      reason: 'timeout',
    });
    await consume('handleUserCreated', 'evt-u2', {
      userId: randomUUID(),
      email: 'bob@example.com',
      name: 'Bob',
    });

    const res = await http().get('/notifications').query({ userId }).expect(200);
    expect(res.body.map((n: { kind: string }) => n.kind).sort()).toEqual([
      'order-cancelled',
      'order-confirmed',
      'welcome',
    ]);
    const byKind = Object.fromEntries(res.body.map((n: { kind: string }) => [n.kind, n]));
    expect(byKind.welcome).toMatchObject({
      subject: 'Welcome, Ada',
      eventId: 'evt-u1',
      orderId: null,
      channel: 'email',
    });
    expect(byKind['order-confirmed']).toMatchObject({
      body: `Your order ${orderId} is confirmed. Total: 25.99 EUR.`,
      orderId,
    });
    expect(byKind['order-cancelled'].body).toMatch(
      /was cancelled: we could not confirm it in time\.$/,
    );
    const times = res.body.map((n: { createdAt: string }) => n.createdAt);
    expect([...times].sort().reverse()).toEqual(times);

    const limited = await http().get('/notifications').query({ userId, limit: 1 }).expect(200);
    expect(limited.body).toHaveLength(1);
  });

  it('answers 400 naming userId when it is missing or not a UUID, and limit when out of range', async () => {
    const missing = await http().get('/notifications').expect(400);
    expect(missing.body.fields).toEqual([{ field: 'userId', problems: ['userId must be a UUID'] }]);
    const badLimit = await http()
      .get('/notifications')
      .query({ userId: randomUUID(), limit: 0 })
      .expect(400);
    expect(badLimit.body.fields).toEqual([
      { field: 'limit', problems: ['limit must not be less than 1'] },
    ]);
  });

  it('is ready with its migrations applied', async () => {
    expect((await http().get('/readyz').expect(200)).body.status).toBe('ready');
  });
});
