import type { INestApplication } from '@nestjs/common';
import {
  countRows,
  createMigratedTestDatabase,
  startTestApp,
  TableOutbox,
} from '@warren/service-kit/testing';
import { eventually, type TestDatabase } from '@warren/testing';
import { join } from 'node:path';
import request from 'supertest';
import { AppModule, SERVICE } from '../src/app.module';
import { PointReads, SqlTransactions } from '@warren/service-kit';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { OrderEligibilityHandler } from '../src/users/order-eligibility';

let database: TestDatabase;
let outbox: TableOutbox;
let app: INestApplication;
const http = () => request(app.getHttpServer());

beforeAll(async () => {
  database = await createMigratedTestDatabase(join(__dirname, '..'), 'user_service');
  outbox = new TableOutbox(database.url);
  await outbox.createTable();
  app = await startTestApp(
    AppModule.forRoot({ databaseUrl: database.url, messaging: { kind: 'outbox', outbox } }),
    SERVICE.name,
  );
});

afterAll(async () => {
  await app?.close();
  await database?.dispose();
});

describe('POST /users', () => {
  it('registers a user and emits user.created in the same transaction', async () => {
    const res = await http()
      .post('/users')
      .send({ email: 'Ada@Example.com ', name: 'Ada' })
      .expect(201);
    expect(res.body).toMatchObject({ email: 'ada@example.com', name: 'Ada', blocked: false });
    expect(res.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
    const events = await outbox.events();
    expect(events).toContainEqual({
      type: 'user.created',
      payload: { userId: res.body.id, email: 'ada@example.com', name: 'Ada' },
    });

    const read = await http().get(`/users/${res.body.id}`).expect(200);
    expect(read.body).toEqual(res.body);
  });

  it('refuses a second user with the same email with 409 and emits nothing', async () => {
    await http().post('/users').send({ email: 'grace@example.com', name: 'Grace' }).expect(201);
    const eventsBefore = (await outbox.events()).length;
    const res = await http()
      .post('/users')
      .send({ email: 'GRACE@example.com', name: 'Other' })
      .expect(409);
    expect(res.body.message).toBe('a user with email grace@example.com already exists');
    expect(await outbox.events()).toHaveLength(eventsBefore);
  });

  it('answers 400 naming each invalid field, and creates nothing', async () => {
    const usersBefore = await countRows(database.url, 'users');
    const res = await http()
      .post('/users')
      .send({ email: 'not-an-email', name: 42, extra: true })
      .expect(400);
    expect(res.body.fields).toEqual(
      expect.arrayContaining([
        { field: 'email', problems: ['email must be an email address'] },
        expect.objectContaining({ field: 'name' }),
        { field: 'extra', problems: ['property extra should not exist'] },
      ]),
    );
    expect(res.body.message).toMatch(/^Validation failed: /);
    expect(await countRows(database.url, 'users')).toBe(usersBefore);
  });

  it('answers 400 with a clear message for malformed JSON', async () => {
    const res = await http()
      .post('/users')
      .set('Content-Type', 'application/json')
      .send('{"email": "a@b.c",')
      .expect(400);
    expect(res.body.message).toMatch(/^Malformed JSON in request body/);
    expect(res.headers['x-correlation-id']).toBeDefined();
  });

  it('returns the first answer for a repeated Idempotency-Key and creates nothing new', async () => {
    const first = await http()
      .post('/users')
      .set('Idempotency-Key', 'user-key-1')
      .send({ email: 'linus@example.com', name: 'Linus' })
      .expect(201);
    const usersAfterFirst = await countRows(database.url, 'users');
    const eventsAfterFirst = (await outbox.events()).length;
    const again = await http()
      .post('/users')
      .set('Idempotency-Key', 'user-key-1')
      .send({ email: 'linus@example.com', name: 'Linus' })
      .expect(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await countRows(database.url, 'users')).toBe(usersAfterFirst);
    expect(await outbox.events()).toHaveLength(eventsAfterFirst);

    const reused = await http()
      .post('/users')
      .set('Idempotency-Key', 'user-key-1')
      .send({ email: 'other@example.com', name: 'Other' })
      .expect(422);
    expect(reused.body.message).toMatch(/already used for a different request body/);
  });

  it('echoes a client correlation id', async () => {
    const res = await http().get('/healthz').set('X-Correlation-Id', 'trace-abc-123').expect(200);
    expect(res.headers['x-correlation-id']).toBe('trace-abc-123');
  });
});

describe('GET /users/:id', () => {
  it('answers 404 for an unknown user and 400 for an id that is not a UUID', async () => {
    const missing = await http().get('/users/00000000-0000-4000-8000-000000000000').expect(404);
    expect(missing.body.message).toBe('user 00000000-0000-4000-8000-000000000000 does not exist');
    const bad = await http().get('/users/abc').expect(400);
    expect(bad.body.fields).toEqual([{ field: 'id', problems: ['id must be a UUID'] }]);
  });

  it('while the database is busy, gathers the reads that wait into one statement, each answered with its own user', async () => {
    const users = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        http()
          .post('/users')
          .send({ email: `reader-${i}@example.com`, name: `Reader ${i}` })
          .expect(201)
          .then((res) => res.body as { id: string; email: string }),
      ),
    );
    const reads = app.get(PointReads);
    const batches = async () => {
      const text = (await http().get('/metrics').expect(200)).text;
      const value = (suffix: string) =>
        Number(
          text.match(
            new RegExp(`^database_read_batch_keys_${suffix}\\{reader="users"\\} (\\S+)`, 'm'),
          )?.[1],
        );
      return { statements: value('count'), keys: value('sum') };
    };
    const blockedReads = async () =>
      Number(
        (
          await locker.query(
            // Blocked while parsing, a statement may still show the connection's last query.
            `SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND backend_type = 'client backend'`,
          )
        ).rows[0].n,
      );
    // Real sockets, each request sent when asked (supertest sends at its first then()).
    const server = app.getHttpServer() as Server;
    if (!server.listening)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const get = async (id: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/users/${id}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const locker = new Client({ connectionString: database.url });
    await locker.connect();
    try {
      const before = await batches();
      // The table locked: the reader's two statements (its inFlight) wait on the lock, one key each.
      await locker.query('BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      const first = [get(users[0]!.id)];
      await eventually(
        'the first read blocked',
        async () => (await blockedReads()) === 1,
        10_000,
        20,
      );
      first.push(get(users[1]!.id));
      await eventually(
        'the second read blocked',
        async () => (await blockedReads()) === 2,
        10_000,
        20,
      );
      // Each other user three times (once upper-cased) and an unknown id twice: they all wait.
      const missing = '00000000-0000-4000-8000-00000000000a';
      const asked = [
        ...users.slice(2).flatMap((u) => [u.id, u.id, u.id.toUpperCase()]),
        missing,
        missing.toUpperCase(),
      ];
      const later = asked.map(get);
      await eventually(
        'every later read waiting',
        async () => reads.waiting === asked.length,
        10_000,
        20,
      );
      await locker.query('COMMIT');

      const answers = await Promise.all(later);
      answers.forEach((res, i) => {
        const id = asked[i]!.toLowerCase();
        if (id === missing) {
          expect(res.status).toBe(404);
          expect(res.body.message).toBe(`user ${asked[i]} does not exist`);
        } else {
          expect(res.status).toBe(200);
          expect(res.body).toMatchObject(users.find((u) => u.id === id)!);
        }
      });
      for (const [i, res] of (await Promise.all(first)).entries()) {
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject(users[i]!);
      }
      // Two statements of one key, then one for the 20 reads of 7 distinct keys.
      const after = await batches();
      expect(after.statements - before.statements).toBe(3);
      expect(after.keys - before.keys).toBe(1 + 1 + 7);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
  });
});

describe('order saga participant', () => {
  const handle = (userId: string, orderId: string, eventId: string) => {
    const handler = app.get(OrderEligibilityHandler);
    return app.get(SqlTransactions).$transaction((tx) =>
      handler.handleOrderCreated(tx, {
        id: eventId,
        type: 'order.created',
        correlationId: 'c-1',
        payload: {
          orderId,
          userId,
          items: [{ sku: 'sku-1', quantity: 1, unitPriceCents: 100 }],
          totalCents: 100,
          currency: 'EUR',
        },
      }),
    );
  };

  it('validates an existing user, rejects a blocked or unknown one, citing the order.created event', async () => {
    const { body: user } = await http()
      .post('/users')
      .send({ email: 'barbara@example.com', name: 'Barbara' })
      .expect(201);
    expect(await handle(user.id, 'order-1', 'evt-1')).toEqual({ allowed: true });

    await http().put(`/users/${user.id}/blocked`).send({ blocked: true }).expect(200);
    expect(await handle(user.id, 'order-2', 'evt-2')).toEqual({
      allowed: false,
      reason: 'user-blocked',
    });
    expect(await handle('no-such-user', 'order-3', 'evt-3')).toEqual({
      allowed: false,
      reason: 'user-not-found',
    });

    const sagaEvents = (await outbox.events()).filter(
      (e) => e.type.startsWith('user.') && e.type !== 'user.created',
    );
    expect(sagaEvents).toEqual([
      {
        type: 'user.validated',
        payload: { orderId: 'order-1', userId: user.id },
        causationId: 'evt-1',
      },
      {
        type: 'user.rejected',
        payload: { orderId: 'order-2', userId: user.id, reason: 'user-blocked' },
        causationId: 'evt-2',
      },
      {
        type: 'user.rejected',
        payload: { orderId: 'order-3', userId: 'no-such-user', reason: 'user-not-found' },
        causationId: 'evt-3',
      },
    ]);
  });
});

describe('operations endpoints', () => {
  it('is ready once the database is reachable and every migration is applied', async () => {
    const res = await http().get('/readyz').expect(200);
    expect(res.body.checks).toEqual([
      { name: 'database', ok: true },
      { name: 'migrations', ok: true },
    ]);
  });

  it('serves Prometheus metrics and the OpenAPI document', async () => {
    const metrics = await http().get('/metrics').expect(200);
    expect(metrics.text).toMatch(
      /http_requests_total\{method="POST",route="\/users",status="201"\} \d+/,
    );
    const openapi = await http().get('/openapi.json').expect(200);
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining(['/users', '/users/{id}', '/healthz', '/readyz']),
    );
  });
});
