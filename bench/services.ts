/**
 * Services benchmark. The platform runs as `npm start` runs it (compiled services, topology
 * applied by the engine, relay and consumers running) in a fresh vhost and databases, beside the
 * same-work server (bench/same-work-server.ts: the same transaction on the same databases, no
 * framework). Each endpoint is driven by autocannon (a fresh body per request) at 1, 16 and 64
 * connections, service and same-work server interleaved in alternating order, `--rounds` times
 * each; the table gives medians and the ratio service / same-work server. GET /users/:id reads one
 * of 1,000 users at random per request.
 * Then a burst: `--burst` orders posted as fast as order-service takes them, the time until every
 * one is CONFIRMED, the peak backlog of each queue, and that none was lost or handled twice.
 *   node --conditions=warren-source --import tsx bench/services.ts [--seconds 5] [--rounds 2] [--burst 5000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startIsolatedPlatform, type IsolatedPlatform } from '@warren/platform';
import { managementRequest, queryDatabase as sql, startTestServers } from '@warren/testing';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '1,16,64' },
    burst: { type: 'string', default: '5000' },
    /** Comma-separated endpoint names to run (default all), e.g. "POST /users". */
    endpoints: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = values.connections.split(',').map(Number);
const BURST = Number(values.burst);
/** How many users GET /users/:id picks from. */
const READABLE_USERS = 1000;

/** The users a run works with: the buyer of its orders, and the users its reads pick from. */
interface Users {
  buyer: string;
  readable: string[];
}

interface Endpoint {
  name: string;
  method: 'GET' | 'POST';
  /** Per request: a read picks one of `users.readable` at random, as real clients spread. */
  path: (users: Users) => string;
  body?: (users: Users) => unknown;
}

const ALL_ENDPOINTS: Endpoint[] = [
  {
    name: 'POST /users',
    method: 'POST',
    path: () => '/users',
    body: () => ({ email: `${randomUUID()}@example.com`, name: 'Bench User' }),
  },
  {
    name: 'POST /orders',
    method: 'POST',
    path: () => '/orders',
    body: ({ buyer }) => ({
      userId: buyer,
      items: [{ sku: 'BENCH-1', quantity: 2, unitPrice: 9.99 }],
    }),
  },
  {
    name: 'GET /users/:id',
    method: 'GET',
    path: ({ readable }) => `/users/${readable[Math.floor(Math.random() * readable.length)]}`,
  },
];
const ENDPOINTS = ALL_ENDPOINTS.filter(
  (endpoint) => !values.endpoints || values.endpoints.split(',').includes(endpoint.name),
);

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU milliseconds of every Node process of the platform and of the same-work server, per answered request. */
  cpuMs: number;
}

/** What a run's CPU is counted over, and how to wait until its downstream work is done. */
interface Meter {
  pids: number[];
  settle: () => Promise<void>;
}

const TICK_MS = 1000 / 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

/** CPU milliseconds (user + system) the processes used so far; NaN where /proc is missing. */
function cpuMsOf(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      return NaN;
    }
  }
  return ticks * TICK_MS;
}

async function load(
  base: string,
  endpoint: Endpoint,
  users: Users,
  connections: number,
  meter: Meter,
): Promise<Run> {
  const cpuBefore = cpuMsOf(meter.pids);
  const result = await autocannon({
    url: base,
    connections,
    duration: SECONDS,
    requests: [
      endpoint.body
        ? {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (request) => ({
              ...request,
              path: endpoint.path(users),
              body: JSON.stringify(endpoint.body!(users)),
            }),
          }
        : {
            method: 'GET',
            setupRequest: (request) => ({ ...request, path: endpoint.path(users) }),
          },
    ],
  });
  // Charged its own sagas, which are done before the next run starts.
  await meter.settle();
  return {
    rps: result['2xx'] / SECONDS,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
    cpuMs: (cpuMsOf(meter.pids) - cpuBefore) / Math.max(1, result['2xx']),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface QueueInfo {
  name: string;
  messages?: number;
}

interface SameWork {
  url: string;
  child: ChildProcess;
}

/** Until no queue of the platform's vhost holds a message (at most 60 s): the sagas are done. */
async function settle(platform: IsolatedPlatform): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const queues = await managementRequest<QueueInfo[]>(
      platform.broker.managementUrl,
      'GET',
      `/api/queues/${encodeURIComponent(platform.broker.vhost)}?columns=name,messages`,
    ).catch(() => undefined);
    if (queues?.every((q) => (q.messages ?? 0) === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function startSameWorkServer(platform: IsolatedPlatform): Promise<SameWork> {
  const child = spawn(
    process.execPath,
    ['--conditions=warren-source', '--import', 'tsx', path.join(__dirname, 'same-work-server.ts')],
    {
      env: {
        ...process.env,
        USER_DB: platform.databases['user-service'],
        ORDER_DB: platform.databases['order-service'],
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  const { port } = JSON.parse(first.value as string) as { port: number };
  return { url: `http://127.0.0.1:${port}`, child };
}

/** Comparison table rows: per endpoint and connection count, service vs same-work medians. */
async function compare(platform: IsolatedPlatform, sameWork: SameWork, users: Users) {
  const meter: Meter = {
    pids: [...Object.values(platform.services).map((service) => service.pid!), sameWork.child.pid!],
    settle: () => settle(platform),
  };
  await meter.settle(); // the first run starts with nothing in flight, like every later one
  const rows: string[] = [];
  const level: Record<string, Record<number, number>> = {};
  const bases: Record<string, string> = {
    'POST /users': platform.services['user-service'].url,
    'POST /orders': platform.services['order-service'].url,
    'GET /users/:id': platform.services['user-service'].url,
  };
  for (const endpoint of ENDPOINTS) {
    for (const connections of CONNECTIONS) {
      const service: Run[] = [];
      const reference: Run[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate who goes first, so load from other work hits both sides alike.
        const order = round % 2 === 0 ? ['service', 'reference'] : ['reference', 'service'];
        for (const side of order) {
          if (side === 'service')
            service.push(await load(bases[endpoint.name]!, endpoint, users, connections, meter));
          else reference.push(await load(sameWork.url, endpoint, users, connections, meter));
        }
      }
      const s = {
        rps: median(service.map((r) => r.rps)),
        p50: median(service.map((r) => r.p50)),
        p99: median(service.map((r) => r.p99)),
        errors: service.reduce((n, r) => n + r.errors, 0),
        cpuMs: median(service.map((r) => r.cpuMs)),
      };
      const r = {
        rps: median(reference.map((x) => x.rps)),
        p50: median(reference.map((x) => x.p50)),
        p99: median(reference.map((x) => x.p99)),
        cpuMs: median(reference.map((x) => x.cpuMs)),
      };
      (level[endpoint.name] ??= {})[connections] = s.rps;
      rows.push(
        `| ${endpoint.name} | ${connections} | ${s.rps.toFixed(0)} | ${s.p50} / ${s.p99} | ${r.rps.toFixed(0)} | ${r.p50} / ${r.p99} | **${(s.rps / r.rps).toFixed(2)}** | ${s.cpuMs.toFixed(2)} / ${r.cpuMs.toFixed(2)} | ${s.errors} |`,
      );
      process.stderr.write(`${rows[rows.length - 1]}\n`);
    }
  }
  const falls = Object.entries(level)
    .filter(([, byConnections]) => (byConnections[64] ?? Infinity) < (byConnections[16] ?? 0))
    .map(([name]) => name);
  return { rows, falls };
}

/** Posts BURST orders at 64 connections, then waits (bounded) until every one is CONFIRMED. */
async function burst(platform: IsolatedPlatform, userId: string) {
  const orderDb = platform.databases['order-service'];
  const [{ before }] = await sql<{ before: number }>(
    orderDb,
    'SELECT count(*)::int AS before FROM orders',
  );
  const peak: Record<string, number> = {};
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const queues = await managementRequest<QueueInfo[]>(
        platform.broker.managementUrl,
        'GET',
        `/api/queues/${encodeURIComponent(platform.broker.vhost)}?columns=name,messages`,
      ).catch(() => []);
      for (const q of queues) peak[q.name] = Math.max(peak[q.name] ?? 0, q.messages ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  const started = Date.now();
  const posted = await autocannon({
    url: `${platform.services['order-service'].url}/orders`,
    connections: 64,
    amount: BURST,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId, items: [{ sku: 'BURST-1', quantity: 1, unitPrice: 5 }] }),
      },
    ],
  });
  const postedMs = Date.now() - started;
  const accepted = posted['2xx'];
  let confirmedMs = NaN;
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    const [{ pending }] = await sql<{ pending: number }>(
      orderDb,
      `SELECT count(*)::int AS pending FROM orders WHERE status = 'PENDING'`,
    );
    if (pending === 0) {
      confirmedMs = Date.now() - started;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  sampling = false;
  await sampler;
  const [counts] = await sql<{ orders: number; confirmed: number }>(
    orderDb,
    `SELECT (SELECT count(*)::int FROM orders) - $1 AS orders,
            (SELECT count(*)::int FROM orders WHERE status = 'CONFIRMED'
               AND id IN (SELECT order_id FROM order_items WHERE sku = 'BURST-1')) AS confirmed`,
    [before],
  );
  const [history] = await sql<{ confirmedRows: number; doubled: number }>(
    orderDb,
    `SELECT count(*)::int AS "confirmedRows",
            count(*) FILTER (WHERE n > 1)::int AS doubled
     FROM (SELECT e.order_id, count(*) AS n FROM order_events e JOIN order_items i ON i.order_id = e.order_id
           WHERE e.to_status = 'CONFIRMED' AND i.sku = 'BURST-1' GROUP BY e.order_id) per_order`,
  );
  const burstIds = (
    await sql<{ id: string }>(
      orderDb,
      `SELECT DISTINCT order_id::text AS id FROM order_items WHERE sku = 'BURST-1'`,
    )
  ).map((row) => row.id);
  const notifiedCount = async () =>
    (
      await sql<{ n: number }>(
        platform.databases['notification-service'],
        `SELECT count(*)::int AS n FROM notifications WHERE kind = 'order-confirmed' AND order_id = ANY($1::text[])`,
        [burstIds],
      )
    )[0]!.n;
  // The notifications follow the confirmations through one more queue: wait for them (bounded).
  const notifyDeadline = Date.now() + 120_000;
  while ((await notifiedCount()) < burstIds.length && Date.now() < notifyDeadline)
    await new Promise((resolve) => setTimeout(resolve, 200));
  const [notified] = await sql<{ notified: number; doubled: number }>(
    platform.databases['notification-service'],
    `SELECT count(DISTINCT order_id)::int AS notified,
            (count(*) - count(DISTINCT order_id))::int AS doubled
     FROM notifications WHERE kind = 'order-confirmed' AND order_id = ANY($1::text[])`,
    [burstIds],
  );
  return {
    accepted,
    refused: posted.non2xx,
    postedMs,
    confirmedMs,
    orders: counts!.orders,
    confirmed: counts!.confirmed,
    history: history!,
    notified: notified!,
    peak,
  };
}

async function main() {
  const servers = await startTestServers((line) => process.stderr.write(`${line}\n`));
  Object.assign(process.env, servers.urls);
  const platform = await startIsolatedPlatform('bench_services', {
    ORDER_TIMEOUT_MS: '600000',
    // Node flags for the services alone (not the bench's load generator), e.g. V8's heap sizes.
    ...(process.env.WARREN_BENCH_SERVICE_NODE_OPTIONS && {
      NODE_OPTIONS: process.env.WARREN_BENCH_SERVICE_NODE_OPTIONS,
    }),
  });
  const sameWork = await startSameWorkServer(platform);
  try {
    const register = async (name: string) => {
      const registered = await fetch(`${platform.services['user-service'].url}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `${randomUUID()}@example.com`, name }),
      });
      return ((await registered.json()) as { id: string }).id;
    };
    const userId = await register('Bench Buyer');
    const readable: string[] = [];
    for (let i = 0; i < READABLE_USERS; i += 10)
      readable.push(
        ...(await Promise.all(Array.from({ length: 10 }, () => register('Bench Reader')))),
      );
    const users: Users = { buyer: userId, readable };
    const load1 = os.loadavg()[0]!.toFixed(1);
    // --rounds 0: the burst alone.
    const { rows, falls } =
      ROUNDS > 0 ? await compare(platform, sameWork, users) : { rows: [], falls: [] };
    const load2 = os.loadavg()[0]!.toFixed(1);
    const b = BURST > 0 ? await burst(platform, userId) : undefined;
    const cpus = os.cpus();
    process.stdout.write(
      `\n${new Date().toISOString().slice(0, 16)} · ${cpus.length} × ${cpus[0]?.model ?? 'cpu'} · Node ${process.version} · load average ${load1} → ${load2}\n` +
        `${SECONDS} s per run, ${ROUNDS} rounds per side, medians\n\n` +
        '| endpoint | connections | service req/s | service p50 / p99 ms | same-work req/s | same-work p50 / p99 ms | ratio | Node CPU ms per request, service / same-work | service errors |\n' +
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n' +
        `${rows.join('\n')}\n\n` +
        (falls.length
          ? `req/s at 64 below req/s at 16: ${falls.join(', ')}\n`
          : 'no endpoint: req/s at 64 below req/s at 16\n') +
        (b
          ? `\nburst: ${BURST} orders posted at 64 connections: ${b.accepted} accepted (${b.refused} refused) in ${(b.postedMs / 1000).toFixed(1)} s; ` +
            `all CONFIRMED ${(b.confirmedMs / 1000).toFixed(1)} s after the first POST\n` +
            `orders created ${b.orders}, confirmed ${b.confirmed}, CONFIRMED history rows ${b.history.confirmedRows} (orders with more than one: ${b.history.doubled}), ` +
            `order-confirmed notifications for ${b.notified.notified} orders (duplicates: ${b.notified.doubled})\n` +
            `peak backlog per queue: ${
              Object.entries(b.peak)
                .filter(([, n]) => n > 0)
                .map(([q, n]) => `${q} ${n}`)
                .join(', ') || 'none above 0'
            }\n`
          : ''),
    );
  } finally {
    sameWork.child.kill('SIGTERM');
    await platform.dispose();
    await servers.stop();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
