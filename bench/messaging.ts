/**
 * Messaging benchmark: raw amqplib against this module, same broker, same settings, same run.
 *   eval "$(npm run -s infra -- env)"
 *   node --conditions=warren-source --import tsx bench/messaging.ts [--seconds 5] [--rounds 2]
 *
 * Settings shared by every scenario: 1 KiB persistent JSON events, one quorum queue, confirms
 * awaited in batches of 500, prefetch 300, manual ack, at most 5,000 messages in flight
 * (published, not yet consumed), a 4-connection PostgreSQL pool for consumers.
 * Latency is publish -> handler (end to end) for pipelines, and per confirmed batch for publishing.
 * Raw and module runs alternate (raw, module, module, raw, twice) and are pooled per side;
 * 5 s runs, about 4 min in all.
 */
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { Client, Pool } from 'pg';
import { createEvent, type EventEnvelope } from '@warren/contracts';
import { createTestDatabase, createTestVhost } from '@warren/testing';
import {
  HandlerRegistry,
  WarrenMessaging,
  createLogger,
  eventProperties,
  migrationSql,
  pgTransactions,
} from '@warren/messaging';
import { declareTopology, testTopology } from '../shared/messaging/test/support/topology';
import { summarize, table, type RunResult, type Summary } from './messaging-stats';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '2' } },
});
/** Length of one run; raw and module each get 2 x ROUNDS runs per comparison. */
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const BATCH = 500;
const PREFETCH = 300;
const WINDOW = 5_000;
const POOL_SIZE = 4;
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
  const amqp = await connect(vhost.amqpUrl);
  const purge = async () => {
    const channel = await amqp.createChannel();
    await channel.purgeQueue(queue);
    await channel.close();
    await pool.query('TRUNCATE warren_inbox, warren_outbox');
  };
  process.stderr.write(
    `bench: vhost ${vhost.vhost}, database ${database.name}, ${SECONDS} s per scenario\n`,
  );

  const results: Summary[] = [];
  const record = (result: RunResult) => {
    const summary = summarize(result);
    results.push(summary);
    process.stderr.write(
      `${summary.name}: ${summary.perSecond.toFixed(0)} msg/s, p99 ${summary.p99.toFixed(1)} ms\n`,
    );
    return summary;
  };
  const once = async (scenario: () => Promise<RunResult>) => {
    await purge();
    return scenario();
  };
  const run = async (scenario: () => Promise<RunResult>) => record(await once(scenario));
  /**
   * Raw and module, twice each in the order raw, module, module, raw: this machine's noise
   * (other work on two cores) then hits both sides alike. Runs of one side are pooled.
   */
  const pair = async (raw: () => Promise<RunResult>, module: () => Promise<RunResult>) => {
    const raws: RunResult[] = [];
    const modules: RunResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      raws.push(await once(raw));
      modules.push(await once(module), await once(module));
      raws.push(await once(raw));
    }
    return [record(merge(raws)), record(merge(modules))] as const;
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
    const [rawPublish, modulePublish] = await pair(rawPublishRun, modulePublishRun);

    // --- pipelines: publish -> consume, saturated (throughput) and at a fixed rate (latency) ---
    const rawTransport = await run(() => rawPipeline(false));
    const [rawInbox, modulePipeline] = await pair(
      () => rawPipeline(true),
      () => modulePipelineRun(),
    );
    // Latency is compared below saturation, where queueing does not dominate it.
    const rate = Math.max(
      50,
      Math.round(Math.min(rawInbox.perSecond, modulePipeline.perSecond) * 0.5),
    );
    const [rawInboxLatency, moduleLatency] = await pair(
      () => rawPipeline(true, rate),
      () => modulePipelineRun(rate),
    );

    // --- outbox: relay throughput from a backlog, then commit -> consume at a fixed rate ---------
    const relay = await run(() => outboxDrainRun(10_000));
    const outboxLatency = await run(() => outboxLatencyRun(Math.round(rate / 2)));

    // --- report ---------------------------------------------------------------------------------
    const ratio = (a: Summary, b: Summary) => ({
      throughput: a.perSecond / b.perSecond,
      p99: a.p99 / b.p99,
    });
    const publishRatio = ratio(modulePublish, rawPublish);
    const pipelineRatio = ratio(modulePipeline, rawInbox);
    const latencyRatio = ratio(moduleLatency, rawInboxLatency);
    const lines = [
      `Messaging benchmark, ${new Date().toISOString()}, ${os.cpus().length} x ${os.cpus()[0]?.model.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}`,
      '',
      table(results),
      '',
      `publish:  module / raw throughput ${(publishRatio.throughput * 100).toFixed(0)}% (goal >= 80%), p99 ${publishRatio.p99.toFixed(2)}x (goal <= 1.5x)`,
      `pipeline: module / raw-with-inbox throughput ${(pipelineRatio.throughput * 100).toFixed(0)}% (goal >= 80%)`,
      `pipeline: module / raw-with-inbox p99 at ${rate} msg/s ${latencyRatio.p99.toFixed(2)}x (goal <= 1.5x), p50 ${(moduleLatency.p50 / rawInboxLatency.p50).toFixed(2)}x`,
      `pipeline: module / raw transport without database ${((modulePipeline.perSecond / rawTransport.perSecond) * 100).toFixed(0)}% (the price of the inbox transaction per message)`,
      `outbox:   ${relay.perSecond.toFixed(0)} events/s commit -> broker (confirmed); commit -> consume at ${Math.round(rate / 2)} events/s: p50 ${outboxLatency.p50.toFixed(1)} ms, p99 ${outboxLatency.p99.toFixed(1)} ms`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await amqp.close();
    await pool.end();
    await database.dispose();
    await vhost.dispose();
  }

  function moduleInstance(handlers = new HandlerRegistry<unknown>(), relay = false) {
    return new WarrenMessaging<unknown>({
      service: 'bench',
      topology: { ...topology, consumes: handlers.types.length > 0 ? topology.consumes : [] },
      amqpUrl: vhost.amqpUrl,
      databaseUrl: database.url,
      transactions: pgTransactions(pool) as never,
      handlers,
      relay,
      logger,
    });
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
    const consumerConnection = await connect(vhost.amqpUrl);
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
            latencies.push(performance.now() - (sent.get(event.id) ?? NaN));
            await client.query('COMMIT');
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
    // Latencies are taken before the commit: close only once every message is acked.
    while (acked < result.messages) await sleep(5);
    await channel.close();
    await consumerConnection.close();
    return result;
  }

  async function modulePipelineRun(rate?: number): Promise<RunResult> {
    const sent = new Map<string, number>();
    const latencies: number[] = [];
    const handlers = new HandlerRegistry<unknown>().on('order.created', async (event) => {
      latencies.push(performance.now() - (sent.get(event.id) ?? NaN));
    });
    const messaging = moduleInstance(handlers);
    await messaging.start();
    const result = await drive(
      'pipeline: module publish + consume (inbox tx)',
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

function merge(runs: RunResult[]): RunResult {
  return {
    name: `${runs[0].name} (${runs.length} runs)`,
    messages: runs.reduce((sum, r) => sum + r.messages, 0),
    seconds: runs.reduce((sum, r) => sum + r.seconds, 0),
    latencies: runs.flatMap((r) => r.latencies),
  };
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
