/**
 * Messaging benchmark: raw amqplib against this module, same broker, same settings, same run.
 *   eval "$(npm run -s infra -- env)"
 *   node --conditions=warren-source --import tsx bench/messaging.ts [--seconds 5] [--rounds 2]
 *
 * Settings shared by every scenario: 1 KiB persistent JSON events, one quorum queue, confirms
 * awaited in batches of 500, prefetch 300, manual ack, at most 5,000 messages in flight
 * (published, not yet consumed), a 4-connection PostgreSQL pool for consumers.
 * Latency is publish -> inbox transaction committed (just before the ack) for pipelines, on both
 * sides, and per confirmed batch for publishing.
 * The module consumes with its defaults (transactions shared under load) and, as a like-for-like
 * check, with a transaction per message (`batching: { maxMessages: 1 }`), the raw side's work.
 * Runs alternate (raw, module..., ...module, raw; `--rounds` times) so this machine's noise hits
 * every side alike; each figure is the median of its runs, with min-max as the spread. The
 * fixed-rate latency comparison gets twice the rounds. 5 s runs, about 6 min in all.
 */
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { Client, Pool, type PoolClient } from 'pg';
import { createEvent, type EventEnvelope } from '@warren/contracts';
import { createTestDatabase, createTestVhost } from '@warren/testing';
import {
  HandlerRegistry,
  WarrenMessaging,
  createLogger,
  eventProperties,
  migrationSql,
  pgTransactions,
  type ConsumerBatching,
  type TransactionRunner,
} from '@warren/messaging';
import { declareTopology, testTopology } from '../shared/messaging/test/support/topology';
import { side, table, verdicts, type RunResult, type Side } from './messaging-stats';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '2' } },
});
/** Length of one run; each side gets 2 x ROUNDS runs per comparison. */
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const BATCH = 500;
const PREFETCH = 300;
const WINDOW = 5_000;
const POOL_SIZE = 4;
/** The module's socket options (Nagle off), so raw is measured with them too. */
const SOCKET = { noDelay: true };
const INBOX_INSERT = `INSERT INTO warren_inbox (consumer, message_id, event_type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logger = createLogger('bench', { level: 'silent' });

/** A ~1 KiB order.created event; each message gets a fresh id (inboxes dedup by id). */
const template = createEvent(
  'order.created',
  {
    orderId: 'o-bench',
    userId: 'u-bench',
    items: Array.from({ length: 8 }, (_, i) => ({
      sku: `SKU-${i}-${'x'.repeat(60)}`,
      quantity: i + 1,
      unitPriceCents: 999,
    })),
    totalCents: 35_964,
    currency: 'EUR',
  },
  { source: 'bench', correlationId: 'bench' },
);
const freshEvent = (): EventEnvelope => ({ ...template, id: randomUUID() });

async function main() {
  const vhost = await createTestVhost('bench_messaging');
  const database = await createTestDatabase('bench_messaging');
  const admin = new Client({ connectionString: database.url });
  await admin.connect();
  await admin.query(migrationSql());
  await admin.end();
  const topology = { ...testTopology('bench', { prefetch: PREFETCH, vhost: vhost.vhost }) };
  topology.publishes = topology.publishes.filter((p) => p.eventType === 'order.created');
  await declareTopology(vhost.amqpUrl, topology);
  const queue = topology.consumes[0].queue;
  const target = topology.publishes[0];
  const pool = new Pool({ connectionString: database.url, max: POOL_SIZE });
  pool.on('error', (error) =>
    process.stderr.write(`bench: idle database connection failed: ${error.message}\n`),
  );
  const amqp = await connect(vhost.amqpUrl, SOCKET);
  const purge = async () => {
    const channel = await amqp.createChannel();
    await channel.purgeQueue(queue);
    await channel.close();
    await pool.query('TRUNCATE warren_inbox, warren_outbox');
  };
  process.stderr.write(
    `bench: vhost ${vhost.vhost}, database ${database.name}, ${SECONDS} s per scenario\n`,
  );

  const results: Side[] = [];
  const once = async (scenario: () => Promise<RunResult>) => {
    await purge();
    return scenario();
  };
  const report = (name: string, runs: RunResult[]) => {
    const summary = side(name, runs);
    results.push(summary);
    process.stderr.write(
      `${summary.name}: ${summary.perSecond.median.toFixed(0)} msg/s, p99 ${summary.p99.median.toFixed(1)} ms\n`,
    );
    return summary;
  };
  const run = async (scenario: () => Promise<RunResult>) => {
    const result = await once(scenario);
    return report(result.name, [result]);
  };
  /**
   * Raw and each module variant, in the order raw, A, B, B, A, raw per round: this machine's
   * noise (other work on two cores) then hits every side alike.
   */
  const compare = async <K extends string>(
    raw: () => Promise<RunResult>,
    modules: Record<K, () => Promise<RunResult>>,
    rounds = ROUNDS,
  ) => {
    const names = Object.keys(modules) as K[];
    const raws: RunResult[] = [];
    const byModule = new Map<K, RunResult[]>(names.map((n) => [n, []]));
    for (let round = 0; round < rounds; round++) {
      raws.push(await once(raw));
      for (const name of [...names, ...[...names].reverse()])
        byModule.get(name)!.push(await once(modules[name]));
      raws.push(await once(raw));
    }
    const rawSide = report(raws[0].name, raws);
    const moduleSides = Object.fromEntries(
      names.map((n) => [n, report(byModule.get(n)![0].name, byModule.get(n)!)]),
    ) as Record<K, Side>;
    return { raw: rawSide, ...moduleSides };
  };

  try {
    // --- publishing alone: raw confirm batches vs the module's ConfirmPublisher ---------------
    const rawPublishRun = async (): Promise<RunResult> => {
      const channel = await amqp.createConfirmChannel();
      const latencies: number[] = [];
      let messages = 0;
      const started = Date.now();
      while (Date.now() - started < SECONDS * 1000) {
        const t0 = performance.now();
        await publishRawBatch(channel, Array.from({ length: BATCH }, freshEvent));
        latencies.push(performance.now() - t0);
        messages += BATCH;
        if (messages % 20_000 === 0) await purgeQueueOnly(amqp, queue);
      }
      const seconds = (Date.now() - started) / 1000;
      await channel.close();
      return { name: 'publish: raw amqplib (confirm batch)', messages, seconds, latencies };
    };

    const modulePublishRun = async (): Promise<RunResult> => {
      const messaging = moduleInstance();
      await messaging.start();
      const latencies: number[] = [];
      let messages = 0;
      const started = Date.now();
      while (Date.now() - started < SECONDS * 1000) {
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: BATCH }, () => messaging.publisher.publishEvent(freshEvent())),
        );
        latencies.push(performance.now() - t0);
        messages += BATCH;
        if (messages % 20_000 === 0) await purgeQueueOnly(amqp, queue);
      }
      const seconds = (Date.now() - started) / 1000;
      await messaging.stop();
      return { name: 'publish: module ConfirmPublisher', messages, seconds, latencies };
    };
    const publish = await compare(rawPublishRun, { module: modulePublishRun });

    // --- pipelines: publish -> consume, saturated (throughput) and at a fixed rate (latency) ---
    const rawTransport = await run(() => rawPipeline(false));
    const alone: ConsumerBatching = { maxMessages: 1 };
    const pipeline = await compare(() => rawPipeline(true), {
      module: () => modulePipelineRun(),
      alone: () => modulePipelineRun(undefined, alone),
    });
    // Latency is compared below saturation, where queueing does not dominate it.
    const rate = Math.max(
      50,
      Math.round(Math.min(pipeline.raw.perSecond.median, pipeline.alone.perSecond.median) * 0.5),
    );
    // Twice the rounds: a p99 of one short run swings with this machine's load, the median of
    // many runs much less.
    const latency = await compare(
      () => rawPipeline(true, rate),
      { module: () => modulePipelineRun(rate), alone: () => modulePipelineRun(rate, alone) },
      ROUNDS * 2,
    );

    // --- outbox: relay throughput from a backlog, then commit -> consume at a fixed rate ---------
    const relay = await run(() => outboxDrainRun(10_000));
    const outboxLatency = await run(() => outboxLatencyRun(Math.round(rate / 2)));

    // --- report ---------------------------------------------------------------------------------
    const throughput = (measure: string, module: Side, raw: Side) => ({
      measure,
      module: module.perSecond.median,
      raw: raw.perSecond.median,
      unit: 'msg/s',
      kind: 'throughput' as const,
      goal: 0.8,
    });
    const p99 = (measure: string, module: Side, raw: Side) => ({
      measure,
      module: module.p99.median,
      raw: raw.p99.median,
      unit: 'ms',
      kind: 'latency' as const,
      goal: 1.5,
    });
    const lines = [
      `Messaging benchmark, ${new Date().toISOString()}, ${os.cpus().length} x ${os.cpus()[0]?.model.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}`,
      '',
      table(results),
      '',
      'Medians of the runs; module / raw against the goals of issue #4:',
      verdicts([
        throughput('publish throughput', publish.module, publish.raw),
        p99('publish p99 per confirmed batch', publish.module, publish.raw),
        throughput('consume throughput (inbox tx)', pipeline.module, pipeline.raw),
        throughput('  same, a tx per message', pipeline.alone, pipeline.raw),
        p99(`p99 publish -> commit at ${rate}/s`, latency.module, latency.raw),
        p99('  same, a tx per message', latency.alone, latency.raw),
      ]),
      '',
      `p50 publish -> commit at ${rate}/s: module ${latency.module.p50.median.toFixed(1)} ms, a tx per message ${latency.alone.p50.median.toFixed(1)} ms, raw ${latency.raw.p50.median.toFixed(1)} ms`,
      `raw transport without database: ${rawTransport.perSecond.median.toFixed(0)} msg/s (module consume reaches ${((pipeline.module.perSecond.median / rawTransport.perSecond.median) * 100).toFixed(0)}% of it)`,
      `outbox: ${relay.perSecond.median.toFixed(0)} events/s commit -> broker (confirmed); commit -> consume at ${Math.round(rate / 2)} events/s: p50 ${outboxLatency.p50.median.toFixed(1)} ms, p99 ${outboxLatency.p99.median.toFixed(1)} ms`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await amqp.close();
    await pool.end();
    await database.dispose();
    await vhost.dispose();
  }

  function moduleInstance(
    handlers = new HandlerRegistry<unknown>(),
    relay = false,
    transactions: TransactionRunner<PoolClient> = pgTransactions(pool),
    batching?: ConsumerBatching,
  ) {
    return new WarrenMessaging<unknown>({
      service: 'bench',
      topology: { ...topology, consumes: handlers.types.length > 0 ? topology.consumes : [] },
      amqpUrl: vhost.amqpUrl,
      databaseUrl: database.url,
      transactions: transactions as TransactionRunner<unknown>,
      handlers,
      relay,
      logger,
      batching,
    });
  }

  /**
   * The module's transactions on the bench's pool, with a clock: handlers note their event in
   * the transaction, and its latency is taken once that transaction has committed, where the raw
   * side takes it too.
   */
  function committedClock(sent: Map<string, number>, latencies: number[]) {
    const base = pgTransactions(pool);
    const noted = new Map<PoolClient, string[]>();
    const transactions: TransactionRunner<PoolClient> = {
      executor: base.executor,
      async transaction(work) {
        const ids: string[] = [];
        const result = await base.transaction((tx) => {
          noted.set(tx, ids);
          return work(tx);
        });
        const now = performance.now();
        for (const id of ids) latencies.push(now - (sent.get(id) ?? NaN));
        return result;
      },
    };
    const note = (tx: unknown, id: string) => noted.get(tx as PoolClient)!.push(id);
    return { transactions, note };
  }

  /** Raw amqplib publishing: a batch on a confirm channel, then one wait for all confirms. */
  async function publishRawBatch(channel: ConfirmChannel, events: EventEnvelope[]) {
    for (const event of events) {
      const content = Buffer.from(JSON.stringify(event));
      channel.publish(target.exchange, target.routingKey, content, eventProperties(event));
    }
    await channel.waitForConfirms();
  }

  /**
   * Drives a pipeline: publishes batches (saturated within the in-flight window, or `rate`
   * messages per second in 20 ms slices) for SECONDS, then waits until all are consumed.
   */
  async function drive(
    name: string,
    publishBatch: (events: EventEnvelope[]) => Promise<void>,
    sent: Map<string, number>,
    latencies: number[],
    rate?: number,
  ): Promise<RunResult> {
    const started = Date.now();
    let published = 0;
    while (Date.now() - started < SECONDS * 1000) {
      let size = BATCH;
      if (rate) {
        const due = Math.floor(((Date.now() - started) / 1000) * rate) - published;
        if (due <= 0) {
          await sleep(20);
          continue;
        }
        size = Math.min(BATCH, due);
      }
      while (published - latencies.length > WINDOW) await sleep(1);
      const events = Array.from({ length: size }, freshEvent);
      const now = performance.now();
      for (const event of events) sent.set(event.id, now);
      await publishBatch(events);
      published += size;
    }
    while (latencies.length < published) await sleep(5);
    const seconds = (Date.now() - started) / 1000;
    return { name: rate ? `${name} @ ${rate}/s` : name, messages: published, seconds, latencies };
  }

  /** Raw amqplib: confirm batches in, manual acks out; optionally the same inbox transaction by hand. */
  async function rawPipeline(inbox: boolean, rate?: number): Promise<RunResult> {
    const consumerConnection = await connect(vhost.amqpUrl, SOCKET);
    const consumerChannel = await consumerConnection.createChannel();
    await consumerChannel.prefetch(PREFETCH);
    const sent = new Map<string, number>();
    const latencies: number[] = [];
    let acked = 0;
    await consumerChannel.consume(queue, (message) => {
      if (!message) return;
      const handle = async () => {
        const event = JSON.parse(message.content.toString()) as EventEnvelope;
        if (inbox) {
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            await client.query(INBOX_INSERT, [queue, event.id, event.type]);
            await client.query('COMMIT');
            latencies.push(performance.now() - (sent.get(event.id) ?? NaN));
          } finally {
            client.release();
          }
        } else {
          latencies.push(performance.now() - (sent.get(event.id) ?? NaN));
        }
        consumerChannel.ack(message);
        acked += 1;
      };
      void handle();
    });
    const channel = await amqp.createConfirmChannel();
    const result = await drive(
      inbox ? 'pipeline: raw amqplib + inbox tx by hand' : 'pipeline: raw amqplib (no database)',
      (events) => publishRawBatch(channel, events),
      sent,
      latencies,
      rate,
    );
    // Latencies are taken before the ack: close only once every message is acked.
    while (acked < result.messages) await sleep(5);
    await channel.close();
    await consumerConnection.close();
    return result;
  }

  async function modulePipelineRun(rate?: number, batching?: ConsumerBatching): Promise<RunResult> {
    const sent = new Map<string, number>();
    const latencies: number[] = [];
    const clock = committedClock(sent, latencies);
    const handlers = new HandlerRegistry<unknown>().on('order.created', async (event, ctx) => {
      clock.note(ctx.tx, event.id);
    });
    const messaging = moduleInstance(handlers, false, clock.transactions, batching);
    await messaging.start();
    const result = await drive(
      batching?.maxMessages === 1
        ? 'pipeline: module, a tx per message'
        : 'pipeline: module publish + consume (inbox tx)',
      async (events) => {
        await Promise.all(events.map((event) => messaging.publisher.publishEvent(event)));
      },
      sent,
      latencies,
      rate,
    );
    await messaging.stop();
    return result;
  }

  /**
   * The relay's rate: a backlog written while no relay runs (as after a broker outage) is
   * drained by one relay; events/s = rows / time until every row is confirmed and marked sent.
   */
  async function outboxDrainRun(rows: number): Promise<RunResult> {
    const writerSide = moduleInstance(new HandlerRegistry<unknown>(), false);
    const writer = async (count: number) => {
      const client = await pool.connect();
      try {
        for (let done = 0; done < count; done += 100) {
          await client.query('BEGIN');
          for (let i = 0; i < 100; i++) {
            await writerSide.outbox.enqueue(client, 'order.created', template.payload, {
              correlationId: 'bench',
            });
          }
          await client.query('COMMIT');
        }
      } finally {
        client.release();
      }
    };
    await Promise.all([writer(rows / 2), writer(rows / 2)]);
    await writerSide.pool.end();
    const messaging = moduleInstance(new HandlerRegistry<unknown>(), true);
    const started = Date.now();
    await messaging.start();
    while ((await messaging.backlog()).size > 0) await sleep(10);
    const seconds = (Date.now() - started) / 1000;
    await messaging.stop();
    return {
      name: `outbox: relay drains ${rows} rows -> broker`,
      messages: rows,
      seconds,
      latencies: [],
    };
  }

  /** One writer commits 10 events per transaction at `rate`; the module relays and consumes them. */
  async function outboxLatencyRun(rate: number): Promise<RunResult> {
    const committed = new Map<string, number>();
    const latencies: number[] = [];
    const handlers = new HandlerRegistry<unknown>().on('order.created', async (event) => {
      latencies.push(performance.now() - (committed.get(event.id) ?? NaN));
    });
    const messaging = moduleInstance(handlers, true);
    await messaging.start();
    const started = Date.now();
    let written = 0;
    const client = await pool.connect();
    try {
      while (Date.now() - started < SECONDS * 1000) {
        if (Math.floor(((Date.now() - started) / 1000) * rate) - written < 10) {
          await sleep(5);
          continue;
        }
        await client.query('BEGIN');
        const ids: string[] = [];
        for (let i = 0; i < 10; i++) {
          const event = await messaging.outbox.enqueue(client, 'order.created', template.payload, {
            correlationId: 'bench',
          });
          ids.push(event.id);
        }
        await client.query('COMMIT');
        const now = performance.now();
        for (const id of ids) committed.set(id, now);
        written += ids.length;
      }
    } finally {
      client.release();
    }
    while (latencies.length < written) await sleep(5);
    await messaging.stop();
    return {
      name: `outbox: commit -> consume @ ${rate}/s`,
      messages: written,
      seconds: (Date.now() - started) / 1000,
      latencies,
    };
  }
}

async function purgeQueueOnly(amqp: ChannelModel, queue: string) {
  const channel = await amqp.createChannel();
  await channel.purgeQueue(queue);
  await channel.close();
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
