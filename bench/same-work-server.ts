/**
 * The benchmark's reference: a minimal Node HTTP server doing the services' database work and
 * nothing else (no framework, no validation beyond JSON.parse, no logs, no metrics). Same
 * databases, same transaction per request: BEGIN, the same row statements, the outbox row (a
 * real envelope, so the running relay publishes it and the consumers handle it), COMMIT.
 *   USER_DB=... ORDER_DB=... PORT=... node --import tsx bench/same-work-server.ts
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'pg';
import { createEvent, type EventType, type PayloadOf } from '@warren/contracts';

const users = new Pool({ connectionString: process.env.USER_DB, max: 10 });
const orders = new Pool({ connectionString: process.env.ORDER_DB, max: 10 });

const OUTBOX = `INSERT INTO warren_outbox (event_id, event_type, aggregate_key, correlation_id, envelope)
VALUES ($1::uuid, $2, $3, $4, $5::json)`;

async function inTransaction<T>(pool: Pool, work: (q: Pool['query']) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client.query.bind(client) as Pool['query']);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

function outboxRow<T extends EventType>(
  source: string,
  type: T,
  payload: PayloadOf<T>,
  key: string,
) {
  const event = createEvent(type, payload, { source, correlationId: randomUUID() });
  return [event.id, type, key, event.correlationId, JSON.stringify(event)];
}

async function createUser(body: { email: string; name: string }) {
  return inTransaction(users, async (query) => {
    const { rows } = await query(
      'INSERT INTO users (id, email, name) VALUES ($1, $2, $3) RETURNING id, email, name, blocked, created_at',
      [randomUUID(), body.email, body.name],
    );
    const user = rows[0];
    await query(
      OUTBOX,
      outboxRow(
        'user-service',
        'user.created',
        { userId: user.id, email: user.email, name: user.name },
        user.id,
      ),
    );
    return user;
  });
}

async function createOrder(body: {
  userId: string;
  items: { sku: string; quantity: number; unitPrice: number }[];
}) {
  const id = randomUUID();
  const items = body.items.map((i) => ({
    sku: i.sku,
    quantity: i.quantity,
    unitPriceCents: Math.round(i.unitPrice * 100),
  }));
  const totalCents = items.reduce((sum, i) => sum + i.quantity * i.unitPriceCents, 0);
  return inTransaction(orders, async (query) => {
    const { rows } = await query(
      `WITH o AS (INSERT INTO orders (id, user_id, currency, total_cents, updated_at) VALUES ($1, $2, 'EUR', $3, now()) RETURNING created_at),
       i AS (INSERT INTO order_items (id, order_id, position, sku, quantity, unit_price_cents)
             SELECT gen_random_uuid(), $1, t.p, t.s, t.q, t.c FROM unnest($4::int[], $5::text[], $6::int[], $7::int[]) AS t(p, s, q, c)),
       h AS (INSERT INTO order_events (order_id, type, to_status) VALUES ($1, 'order.created', 'PENDING') RETURNING occurred_at)
       SELECT o.created_at, h.occurred_at FROM o, h`,
      [
        id,
        body.userId,
        totalCents,
        items.map((_, p) => p),
        items.map((i) => i.sku),
        items.map((i) => i.quantity),
        items.map((i) => i.unitPriceCents),
      ],
    );
    await query(
      OUTBOX,
      outboxRow(
        'order-service',
        'order.created',
        { orderId: id, userId: body.userId, items, totalCents, currency: 'EUR' },
        id,
      ),
    );
    return { id, status: 'PENDING', createdAt: rows[0].created_at };
  });
}

async function readUser(id: string) {
  const { rows } = await users.query(
    'SELECT id, email, name, blocked, created_at FROM users WHERE id = $1',
    [id],
  );
  return rows[0];
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
  if (req.method === 'POST' && req.url === '/users') return send(res, 201, await createUser(body));
  if (req.method === 'POST' && req.url === '/orders')
    return send(res, 201, await createOrder(body));
  if (req.method === 'GET' && req.url?.startsWith('/users/'))
    return send(res, 200, await readUser(req.url.slice(7)));
  return send(res, 404, { message: 'not found' });
}

createServer((req, res) => {
  handle(req, res).catch((error: Error) => send(res, 500, { message: error.message }));
}).listen(Number(process.env.PORT ?? 0), '127.0.0.1', function (this: import('node:net').Server) {
  process.stdout.write(`${JSON.stringify(this.address())}\n`);
});
