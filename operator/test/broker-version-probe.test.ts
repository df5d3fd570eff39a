/**
 * What Warren relies on, measured on the run's broker and stated per version: a broker change
 * fails this test, not production. Each fact is a row of EXPECTED; a version without a row
 * fails, so a new broker in the matrix is looked at before it is trusted. The engine's
 * per-version arguments (src/engine/broker-version.ts) must agree with what is measured here.
 */
import { connect } from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import {
  brokerVersion,
  createTestVhost,
  eventually,
  managementRequest,
  type TestVhost,
} from '@warren/testing';
import { UNBOUNDED_DELIVERY_LIMIT, brokerProfile } from '../src/engine/broker-version';
import { MAX_PERMISSION_PATTERN, exactly } from '../src/engine/naming';

interface Facts {
  /** Deliveries of a quorum-queue message returned by closing the channel, before it is gone (null: never). */
  deliveriesBeforeLimit: number | null;
  /** A message nacked with requeue 25 times is still in the queue (nack does not count). */
  nackRequeueSurvives: boolean;
  /** The x-death entries a client put on a message survive the broker dead-lettering it. */
  clientXDeathKept: boolean;
  /** A passive declare of a queue the user has no permission on succeeds. */
  passiveWithoutPermission: boolean;
  /**
   * A quorum queue declared with `x-delayed-retry-type: failed`, `-min: 200`, `-max: 500` (what
   * RetryPolicy `strategy: broker` compiles to): `delays`, a rejected message waits
   * min(200 * x-delivery-count, 500) ms; `ignored`, the arguments are accepted and change
   * nothing; `refused`, the declare fails.
   */
  delayedRetry: 'delays' | 'ignored' | 'refused';
  /** A nack with requeue raises x-delivery-count (a reject with requeue always does). */
  nackCounts: boolean;
}

const EXPECTED: Record<string, Facts> = {
  '3.10': {
    deliveriesBeforeLimit: null,
    nackRequeueSurvives: true,
    clientXDeathKept: true,
    passiveWithoutPermission: true,
    delayedRetry: 'ignored',
    nackCounts: true,
  },
  '4.0': {
    deliveriesBeforeLimit: 21,
    nackRequeueSurvives: false,
    clientXDeathKept: false,
    passiveWithoutPermission: true,
    delayedRetry: 'ignored',
    nackCounts: true,
  },
  '4.3': {
    deliveriesBeforeLimit: 21,
    nackRequeueSurvives: true,
    clientXDeathKept: false,
    passiveWithoutPermission: false,
    delayedRetry: 'delays',
    nackCounts: false,
  },
};

const ROUNDS = 25;
const quorum = (extra: Record<string, unknown> = {}) => ({
  durable: true,
  arguments: { 'x-queue-type': 'quorum', ...extra },
});

let vhost: TestVhost;
let connection: ChannelModel;
let channel: Channel;
let version: string;
let facts: Facts;

/** One message in a fresh quorum queue, confirmed, so a get finds it at once. */
async function queueWithMessage(name: string, args: Record<string, unknown> = {}) {
  await channel.assertQueue(name, quorum(args));
  const confirm = await connection.createConfirmChannel();
  confirm.sendToQueue(name, Buffer.from('{}'), { persistent: true });
  await confirm.waitForConfirms();
  await confirm.close();
}

/** Gets the message and returns it by closing the channel, until it is gone (at most ROUNDS). */
async function deliveriesByChannelClose(queue: string): Promise<number> {
  for (let n = 0; n < ROUNDS; n++) {
    const throwaway = await connection.createChannel();
    const message = await throwaway.get(queue, { noAck: false });
    await throwaway.close();
    if (!message) return n;
  }
  return ROUNDS;
}

interface Redelivery {
  /** Milliseconds since the message was returned. */
  waitedMs: number;
  /** The broker's x-delivery-count header (absent: 0). */
  deliveryCount: number;
}

/**
 * Consumes the queue's one message `returns + 1` times, returning it after each delivery but the
 * last with `give` (reject or nack, with requeue): how long each return waited, and the count.
 */
async function redeliveries(
  queue: string,
  returns: number,
  give: (c: Channel, m: ConsumeMessage) => void,
): Promise<Redelivery[]> {
  const consumer = await connection.createChannel();
  const seen: Redelivery[] = [];
  let returnedAt = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(
        () => reject(new Error(`${queue}: ${seen.length} of ${returns + 1} deliveries`)),
        10_000,
      );
      void consumer.consume(queue, (message) => {
        if (!message) return;
        if (returnedAt > 0)
          seen.push({
            waitedMs: Date.now() - returnedAt,
            deliveryCount: Number(message.properties.headers?.['x-delivery-count'] ?? 0),
          });
        if (seen.length === returns) {
          consumer.ack(message);
          clearTimeout(timeout);
          resolve();
          return;
        }
        returnedAt = Date.now();
        give(consumer, message);
      });
    });
  } finally {
    await consumer.close().catch(() => undefined);
  }
  return seen;
}

async function deliveriesByNack(queue: string): Promise<number> {
  for (let n = 0; n < ROUNDS; n++) {
    const message = await channel.get(queue, { noAck: false });
    if (!message) return n;
    channel.nack(message, false, true);
  }
  return ROUNDS;
}

/**
 * A broker user of the test's own in its vhost (no tags): `permit` sets its permissions (the
 * broker's answer or error), `tryAs` runs one operation on a fresh channel of its connection
 * and says 'ok', 'refused' (403) or the error; `work` runs with both, the user goes afterwards.
 */
async function withUser(
  name: string,
  work: (user: {
    permit(permissions: { configure: string; write: string; read: string }): Promise<string>;
    tryAs(operation: (c: Channel) => Promise<unknown>): Promise<string>;
  }) => Promise<void>,
): Promise<void> {
  const user = `${name}-${vhost.vhost}`;
  const password = `${name}-secret`;
  const userPath = `/api/users/${encodeURIComponent(user)}`;
  await managementRequest(vhost.managementUrl, 'PUT', userPath, { password, tags: '' });
  let connection: ChannelModel | undefined;
  try {
    await work({
      permit: (permissions) =>
        managementRequest(
          vhost.managementUrl,
          'PUT',
          `/api/permissions/${encodeURIComponent(vhost.vhost)}/${encodeURIComponent(user)}`,
          permissions,
        ).then(
          () => 'taken',
          (error: Error) => error.message,
        ),
      tryAs: async (operation) => {
        if (!connection) {
          const url = new URL(vhost.amqpUrl);
          url.username = encodeURIComponent(user);
          url.password = password;
          connection = await connect(url.toString());
          connection.on('error', () => undefined);
        }
        const c = await connection.createChannel();
        c.on('error', () => undefined);
        return operation(c).then(
          () => 'ok',
          (error: Error) => (/403/.test(error.message) ? 'refused' : error.message),
        );
      },
    });
  } finally {
    await connection?.close().catch(() => undefined);
    await managementRequest(vhost.managementUrl, 'DELETE', userPath);
  }
}

beforeAll(async () => {
  version = await brokerVersion();
  const row = EXPECTED[version.split('.').slice(0, 2).join('.')];
  if (!row) throw new Error(`no EXPECTED row for RabbitMQ ${version}: measure it and add one`);
  facts = row;
  vhost = await createTestVhost('version_probe');
  connection = await connect(vhost.amqpUrl);
  channel = await connection.createChannel();
});

afterAll(async () => {
  await connection?.close().catch(() => undefined);
  await vhost?.dispose();
});

describe('the broker, as Warren relies on it', () => {
  it('quorum queues: the default delivery limit and what counts towards it', async () => {
    await queueWithMessage('limit.close');
    expect(await deliveriesByChannelClose('limit.close')).toBe(
      facts.deliveriesBeforeLimit ?? ROUNDS,
    );
    await queueWithMessage('limit.nack');
    expect((await deliveriesByNack('limit.nack')) === ROUNDS).toBe(facts.nackRequeueSurvives);
    // The engine compiles for exactly this default.
    const profile = brokerProfile(version);
    expect(profile.quorumDeliveryLimitDefault).toBe(
      facts.deliveriesBeforeLimit === null ? null : facts.deliveriesBeforeLimit - 1,
    );
  });

  it('a message over the limit is dead-lettered with reason delivery_limit, or dropped without a dead-letter exchange', async () => {
    await channel.assertExchange('limit.dlx', 'fanout', { durable: true });
    await channel.assertQueue('limit.dlq', quorum());
    await channel.bindQueue('limit.dlq', 'limit.dlx', '');
    await queueWithMessage('limit.with-dlx', { 'x-dead-letter-exchange': 'limit.dlx' });
    await deliveriesByChannelClose('limit.with-dlx');
    if (facts.deliveriesBeforeLimit === null) {
      // The last close returns the message asynchronously (through the queue's Raft log): a
      // count read at once can still say 0, so the message itself is what shows it is kept.
      const kept = await eventually('the message back in limit.with-dlx', () =>
        channel.get('limit.with-dlx', { noAck: true }),
      );
      expect(kept.content.toString()).toBe('{}');
      expect((await channel.checkQueue('limit.dlq')).messageCount).toBe(0);
      return;
    }
    const dead = await eventually('the dead letter', () => channel.get('limit.dlq'));
    const deaths = dead.properties.headers?.['x-death'] as { reason: string }[];
    expect(deaths[0]!.reason).toBe('delivery_limit');
    // limit.close of the test above had no dead-letter exchange: the message is gone for good.
    expect((await channel.checkQueue('limit.close')).messageCount).toBe(0);
  });

  it("Warren's unbounded x-delivery-limit keeps a message however often it is returned (dead-letter listings, consumer restarts)", async () => {
    await queueWithMessage('limit.unbounded', { 'x-delivery-limit': UNBOUNDED_DELIVERY_LIMIT });
    expect(await deliveriesByChannelClose('limit.unbounded')).toBe(ROUNDS);
    expect(await deliveriesByNack('limit.unbounded')).toBe(ROUNDS);
    expect((await channel.checkQueue('limit.unbounded')).messageCount).toBe(1);
  });

  it('x-death on a message a client republished: kept and extended (3.x) or replaced by the broker (4.x)', async () => {
    await channel.assertExchange('death.dlx', 'fanout', { durable: true });
    await channel.assertQueue('death.dlq', quorum());
    await channel.bindQueue('death.dlq', 'death.dlx', '');
    await channel.assertQueue('death.q', quorum({ 'x-dead-letter-exchange': 'death.dlx' }));
    const confirm = await connection.createConfirmChannel();
    confirm.sendToQueue('death.q', Buffer.from('{}'), {
      persistent: true,
      headers: {
        'x-death': [
          {
            count: 1,
            reason: 'expired',
            queue: 'death.q.retry.1s',
            exchange: '',
            'routing-keys': ['x'],
          },
        ],
      },
    });
    await confirm.waitForConfirms();
    await confirm.close();
    const message = await eventually('the message', () => channel.get('death.q'));
    channel.reject(message, false);
    const dead = await eventually('the dead letter', () => channel.get('death.dlq'));
    const queues = (dead.properties.headers?.['x-death'] as { queue: string }[]).map(
      (d) => d.queue,
    );
    expect(queues).toEqual(facts.clientXDeathKept ? ['death.q', 'death.q.retry.1s'] : ['death.q']);
  });

  it('passive declares: always allowed with a permission on the object; without one only before 4.2.6', async () => {
    await channel.assertQueue('rights.own', quorum());
    await channel.assertQueue('rights.other', quorum());
    await channel.assertExchange('rights.exchange', 'direct', { durable: true });
    await withUser('probe', async ({ permit, tryAs }) => {
      expect(
        await permit({ configure: '^$', write: '^rights\\.exchange$', read: '^rights\\.own$' }),
      ).toBe('taken');
      expect(await tryAs((c) => c.checkQueue('rights.own'))).toBe('ok');
      expect(await tryAs((c) => c.checkExchange('rights.exchange'))).toBe('ok');
      expect(await tryAs((c) => c.checkQueue('rights.other'))).toBe(
        facts.passiveWithoutPermission ? 'ok' : 'refused',
      );
      expect(brokerProfile(version).passiveDeclareNeedsPermission).toBe(
        !facts.passiveWithoutPermission,
      );
    });
  });

  it("permission patterns: the broker takes at most MAX_PERMISSION_PATTERN characters; a 40-route service's factored pattern is taken and grants exactly its names", async () => {
    await withUser('pattern', async ({ permit, tryAs }) => {
      const read = (pattern: string) => permit({ configure: '^$', write: '^$', read: pattern });
      const ofLength = (n: number) => `^(${'a'.repeat(n - 4)})$`;
      expect(await read(ofLength(MAX_PERMISSION_PATTERN))).toBe('taken');
      const longer = await read(ofLength(MAX_PERMISSION_PATTERN + 1));
      // 3.x and 4.0 take longer patterns; 4.3 refuses them (pattern_too_long).
      expect(longer === 'taken' || /pattern_too_long|invalid_regexp/.test(longer)).toBe(true);

      const queues = Array.from({ length: 40 }, (_, i) => `svc.order-lifecycle-route-${i}`);
      const names = queues.flatMap((q) => [q, `${q}.dlq`, `${q}.retry.1s`, `${q}.retry.30s`]);
      expect(await read(exactly(names))).toBe('taken');
      const granted = [queues[17]!, `${queues[3]!}.dlq`];
      const refused = ['svc.order-lifecycle-route-40', `${queues[3]!}.dlqx`];
      for (const queue of [...granted, ...refused]) await channel.assertQueue(queue, quorum());
      for (const queue of granted) expect(await tryAs((c) => c.get(queue))).toBe('ok');
      for (const queue of refused) expect(await tryAs((c) => c.get(queue))).toBe('refused');
    });
  });

  it('x-dead-letter-strategy at-least-once holds only with x-overflow reject-publish (otherwise silently at-most-once)', async () => {
    const dlxMessages = async (queue: string) =>
      (
        await managementRequest<{ messages_dlx?: number }>(
          vhost.managementUrl,
          'GET',
          `/api/queues/${encodeURIComponent(vhost.vhost)}/${encodeURIComponent(queue)}`,
        )
      ).messages_dlx ?? 0;
    // A dead-letter exchange with no queue bound: at-least-once keeps the message until it routes.
    await channel.assertExchange('alo.dlx', 'fanout', { durable: true });
    for (const overflow of ['reject-publish', undefined]) {
      const queue = `alo.${overflow ?? 'default'}`;
      await queueWithMessage(queue, {
        'x-dead-letter-exchange': 'alo.dlx',
        'x-dead-letter-strategy': 'at-least-once',
        ...(overflow ? { 'x-overflow': overflow } : {}),
      });
      const message = await eventually('the message', () => channel.get(queue));
      channel.reject(message, false);
    }
    // Management figures refresh every 5 s.
    await eventually(
      'the held dead letter',
      async () => (await dlxMessages('alo.reject-publish')) === 1,
      20_000,
    );
    expect(await dlxMessages('alo.default')).toBe(0);
  });

  it('delayed retry (x-delayed-retry-*, RetryPolicy strategy broker): a rejected message waits min * x-delivery-count, capped at max; a nacked one neither waits nor counts (4.3+)', async () => {
    const DELAYED = {
      'x-delayed-retry-type': 'failed',
      'x-delayed-retry-min': 200,
      'x-delayed-retry-max': 500,
    };
    const declared = await queueWithMessage('delayed.reject', DELAYED).then(
      () => 'declared',
      (error: Error) => error.message,
    );
    if (facts.delayedRetry === 'refused') {
      expect(declared).toMatch(/PRECONDITION_FAILED|406/);
      channel = await connection.createChannel();
      return;
    }
    expect(declared).toBe('declared');
    const rejected = await redeliveries('delayed.reject', 4, (c, m) => c.reject(m, true));
    // Every return counts as a failed delivery, on every version.
    expect(rejected.map((r) => r.deliveryCount)).toEqual([1, 2, 3, 4]);
    if (facts.delayedRetry === 'delays') {
      // At least the delay; at most 250 ms late (a busy machine), which still tells the cap
      // (500) from a linear delay going on (800).
      [200, 400, 500, 500].forEach((delay, i) => {
        expect(rejected[i]!.waitedMs).toBeGreaterThanOrEqual(delay - 5);
        expect(rejected[i]!.waitedMs).toBeLessThanOrEqual(delay + 250);
      });
    } else {
      for (const r of rejected) expect(r.waitedMs).toBeLessThan(200);
    }
    expect(brokerProfile(version).delayedRetry).toBe(facts.delayedRetry === 'delays');

    // The consumer's infrastructure-failure path (nack with requeue) must not use an attempt.
    await queueWithMessage('delayed.nack', DELAYED);
    const nacked = await redeliveries('delayed.nack', 3, (c, m) => c.nack(m, false, true));
    for (const r of nacked) expect(r.waitedMs).toBeLessThan(200);
    expect(nacked.map((r) => r.deliveryCount)).toEqual(facts.nackCounts ? [1, 2, 3] : [0, 0, 0]);
  });
});
