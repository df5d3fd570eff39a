/**
 * Services benchmark: POST /users and POST /orders under load (autocannon, bounded runs), and
 * the saga's latency from POST /orders to CONFIRMED under that load (order-service's own
 * timestamps: order created_at -> the CONFIRMED history row). The platform runs as `npm start`
 * runs it (compiled services, topology applied by the engine) in a fresh vhost and databases.
 *   node --conditions=warren-source --import tsx bench/services.ts [--seconds 10] [--connections 20]
 */
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { startIsolatedPlatform } from '@warren/platform';
import { startTestServers } from '@warren/testing';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '20' },
  },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);

interface LoadFigures {
  name: string;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** POSTs a fresh body per request for SECONDS; without a body, GETs (the HTTP baseline). */
async function load(name: string, url: string, body?: () => unknown): Promise<LoadFigures> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      body
        ? {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (request) => ({ ...request, body: JSON.stringify(body()) }),
          }
        : { method: 'GET' },
    ],
  });
  return {
    name,
    requests: result['2xx'],
    rps: result['2xx'] / SECONDS,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
  };
}

async function sql<T extends object>(url: string, text: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/** Waits (bounded) until no order is PENDING, then reads the POST -> CONFIRMED percentiles. */
async function sagaLatency(orderDb: string) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const [{ pending }] = await sql<{ pending: number }>(
      orderDb,
      `SELECT count(*)::int AS pending FROM orders WHERE status = 'PENDING'`,
    );
    if (pending === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const [row] = await sql<{
    confirmed: number;
    cancelled: number;
    p50: number;
    p99: number;
    max: number;
  }>(
    orderDb,
    `SELECT count(*) FILTER (WHERE o.status = 'CONFIRMED')::int AS confirmed,
            count(*) FILTER (WHERE o.status = 'CANCELLED')::int AS cancelled,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.occurred_at - o.created_at) * 1000) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM e.occurred_at - o.created_at) * 1000) AS p99,
            max(extract(epoch FROM e.occurred_at - o.created_at) * 1000)::float8 AS max
     FROM orders o LEFT JOIN order_events e ON e.order_id = o.id AND e.to_status = 'CONFIRMED'`,
  );
  return row;
}

async function main() {
  const servers = await startTestServers((line) => process.stderr.write(`${line}\n`));
  Object.assign(process.env, servers.urls);
  const platform = await startIsolatedPlatform('bench_services', {
    LOG_LEVEL: 'warn',
    ORDER_TIMEOUT_MS: '600000',
  });
  try {
    const users = platform.services['user-service'].url;
    const orders = platform.services['order-service'].url;
    const baseline = await load('GET /healthz (HTTP baseline)', `${users}/healthz`);
    const registered = await load('POST /users', `${users}/users`, () => ({
      email: `${randomUUID()}@example.com`,
      name: 'Bench User',
    }));
    const [{ id: userId }] = await sql<{ id: string }>(
      platform.databases['user-service'],
      'SELECT id FROM users LIMIT 1',
    );
    const placed = await load('POST /orders', `${orders}/orders`, () => ({
      userId,
      items: [{ sku: 'BENCH-1', quantity: 2, unitPrice: 9.99 }],
    }));
    const saga = await sagaLatency(platform.databases['order-service']);

    const cpus = os.cpus();
    process.stdout.write(
      `\n${new Date().toISOString().slice(0, 10)} · ${cpus.length} × ${cpus[0]?.model ?? 'cpu'} · ${Math.round(os.totalmem() / 2 ** 30)} GiB · Node ${process.version}\n` +
        `${SECONDS} s per endpoint, ${CONNECTIONS} connections\n\n` +
        '| endpoint | 2xx | req/s | p50 ms | p99 ms | errors |\n| --- | ---: | ---: | ---: | ---: | ---: |\n' +
        [baseline, registered, placed]
          .map(
            (f) =>
              `| ${f.name} | ${f.requests} | ${f.rps.toFixed(0)} | ${f.p50} | ${f.p99} | ${f.errors} |`,
          )
          .join('\n') +
        `\n\nPOST /orders -> CONFIRMED: p50 ${saga.p50.toFixed(0)} ms, p99 ${saga.p99.toFixed(0)} ms, max ${saga.max.toFixed(0)} ms ` +
        `(${saga.confirmed} confirmed, ${saga.cancelled} cancelled)\n`,
    );
  } finally {
    await platform.dispose();
    await servers.stop();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
