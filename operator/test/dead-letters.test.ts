/**
 * `warren dead-letters` and `warren redrive` against the real broker, on the topology `warren
 * apply` declares. Dead letters are made as the consumer protocol makes them (WARREN_HEADERS,
 * published to the route's dead-letter exchange), including the x-death record the broker adds
 * on the way through the retry queues.
 */
import { connect } from 'amqplib';
import type { ChannelModel } from 'amqplib';
import type { ServiceTopology } from '@warren/contracts';
import { WARREN_HEADERS as H } from '@warren/contracts';
import type { TestVhost } from '@warren/testing';
import { createTestVhost, eventually } from '@warren/testing';
import { retryPolicy, route } from './resources';
import { cliEnv, drainQueue, warren, writeResources } from './broker-helpers';

let vhost: TestVhost;
let env: NodeJS.ProcessEnv;
let dir: string;
let admin: ChannelModel;
let welcome: { queue: string; deadLetterExchange: string; deadLetterQueue: string };
let auditQueue: string;

const REASONS = [
  'retries-exhausted',
  'retries-exhausted',
  'non-retryable',
  'retries-exhausted',
  'contract-invalid',
];

beforeAll(async () => {
  vhost = await createTestVhost('dead_letters');
  env = cliEnv(vhost);
  dir = await writeResources([
    retryPolicy('three-strikes', { maxAttempts: 3 }),
    route('welcome', { retryPolicyRef: { name: 'three-strikes' } }),
    // Another consumer of the same event: a redrive must never reach it.
    route('audit', { consumer: { service: 'audit-service' } }),
    route('quiet', {
      events: ['user.deleted'],
      consumer: { service: 'audit-service' },
      deadLetter: { enabled: false },
    }),
  ]);
  expect((await warren(['apply', '-f', dir], env)).code).toBe(0);
  const topology = JSON.parse(
    (await warren(['topology', '-f', dir, '--service', 'notification-service'], env)).out,
  ) as ServiceTopology;
  const consumer = topology.consumes[0]!;
  welcome = {
    queue: consumer.queue,
    deadLetterExchange: consumer.deadLetter!.exchange,
    deadLetterQueue: consumer.deadLetter!.queue,
  };
  const audit = JSON.parse(
    (await warren(['topology', '-f', dir, '--service', 'audit-service'], env)).out,
  ) as ServiceTopology;
  auditQueue = audit.consumes.find((c) => c.eventTypes.includes('user.created'))!.queue;
  admin = await connect(vhost.amqpUrl);

  // Five dead letters, as notification-service's consumer leaves them.
  const channel = await admin.createConfirmChannel();
  REASONS.forEach((reason, i) => {
    channel.publish(welcome.deadLetterExchange, 'user.created', Buffer.from(`{"n":${i}}`), {
      persistent: true,
      messageId: `message-${i}`,
      type: 'user.created',
      correlationId: `correlation-${i}`,
      contentType: 'application/json',
      headers: {
        'x-custom': 'kept',
        [H.reason]: reason,
        [H.attempt]: reason === 'retries-exhausted' ? 3 : 1,
        [H.error]: `${reason}: handler said no`,
        [H.errorKind]: reason === 'contract-invalid' ? 'ContractError' : 'TimeoutError',
        [H.originalExchange]: 'user.events',
        [H.originalRoutingKey]: 'user.created',
        [H.originalQueue]: welcome.queue,
        [H.firstFailureAt]: '2026-11-30T10:00:00.000Z',
        [H.lastFailureAt]: '2026-11-30T10:00:01.000Z',
        'x-death': [{ queue: `${welcome.queue}.retry.1s`, reason: 'expired', count: 1 }],
      },
    });
  });
  await channel.waitForConfirms();
  await channel.close();
  // Three CLI runs (each a Node start-up): slow on a busy machine.
}, 180_000);

afterAll(async () => {
  await admin?.close().catch(() => undefined);
  await vhost?.dispose();
});

async function depth(queue: string): Promise<number> {
  const channel = await admin.createChannel();
  try {
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await channel.close();
  }
}

const drain = (queue: string) => drainQueue(admin, queue);

it('lists dead letters with why they failed, and leaves them in the queue', async () => {
  const listed = await warren(['dead-letters', '-f', dir, '--route', 'welcome'], env);
  expect(listed.code).toBe(0);
  expect(listed.out).toContain(`${welcome.deadLetterQueue}: 5 dead letters`);
  expect(listed.out).toMatch(
    /1\s+user\.created\s+message-0\s+retries-exhausted\s+3\s+TimeoutError/,
  );
  expect(listed.out).toContain('5. contract-invalid: handler said no');

  const json = await warren(
    ['dead-letters', '-f', dir, '--route', 'default/welcome', '--limit', '2', '-o', 'json'],
    env,
  );
  const data = JSON.parse(json.out) as {
    depth: number;
    queue: string;
    messages: { messageId: string; reason: string; attempts: number; body: string }[];
  };
  expect(data.depth).toBe(5);
  expect(data.queue).toBe(welcome.deadLetterQueue);
  expect(data.messages).toHaveLength(2);
  expect(data.messages[0]).toMatchObject({
    messageId: 'message-0',
    reason: 'retries-exhausted',
    attempts: 3,
    body: '{"n":0}',
    correlationId: 'correlation-0',
    originalQueue: welcome.queue,
  });
  // The listing returns what it read; a quorum queue takes them back through its log, so a
  // count read at once may still miss some for a moment: none may be missing for long.
  await eventually(
    'every dead letter back',
    async () => ((await depth(welcome.deadLetterQueue)) === 5 ? true : undefined),
    10_000,
  );
});

it('redrives only the reasons asked for, to the failing queue alone, with fresh attempts', async () => {
  const redriven = await warren(
    ['redrive', '-f', dir, '--route', 'welcome', '--reason', 'retries-exhausted'],
    env,
  );
  expect(redriven.code).toBe(0);
  expect(redriven.out).toContain(
    `Redrove 3 messages from ${welcome.deadLetterQueue} to ${welcome.queue} (2 of other reasons left in place).`,
  );
  expect(redriven.err).toContain('redriven 3');

  const arrived = await drain(welcome.queue);
  expect(arrived.map((m) => m.properties.messageId).sort()).toEqual([
    'message-0',
    'message-1',
    'message-3',
  ]);
  for (const message of arrived) {
    const headers = message.properties.headers!;
    // The failure state is gone: the consumer starts again at attempt 1.
    for (const cleared of [H.attempt, H.error, H.errorKind, H.reason, H.lastFailureAt, 'x-death'])
      expect(headers[cleared]).toBeUndefined();
    expect(headers).toMatchObject({
      'x-custom': 'kept',
      [H.originalExchange]: 'user.events',
      [H.originalQueue]: welcome.queue,
      [H.redrives]: 1,
    });
    expect(Date.parse(String(headers[H.redrivenAt]))).toBeGreaterThan(Date.now() - 60_000);
    expect(message.properties).toMatchObject({
      type: 'user.created',
      contentType: 'application/json',
      deliveryMode: 2,
    });
    expect(message.properties.correlationId).toMatch(/^correlation-[013]$/);
  }
  expect(await depth(auditQueue)).toBe(0);
  expect(await depth(welcome.deadLetterQueue)).toBe(2);
});

it('redrives the rest, at most --limit at a time, until the queue is empty', async () => {
  const one = await warren(['redrive', '-f', dir, '--route', 'welcome', '--limit', '1'], env);
  expect(one.out).toContain('Redrove 1 message from');
  const rest = await warren(['redrive', '-f', dir, '--route', 'welcome', '-o', 'json'], env);
  expect(JSON.parse(rest.out)).toMatchObject({ redriven: 1, skipped: 0, remaining: 0 });
  expect((await drain(welcome.queue)).map((m) => m.properties.messageId).sort()).toEqual([
    'message-2',
    'message-4',
  ]);
  const empty = await warren(['redrive', '-f', dir, '--route', 'welcome'], env);
  expect(empty.out).toContain('Redrove 0 messages');
});

it('names what is wrong: unknown route, no dead-lettering, bad reason or limit', async () => {
  const cases: [string[], string][] = [
    [['dead-letters', '--route', 'nope'], 'no EventRoute "nope"'],
    [['dead-letters', '--route', 'quiet'], 'has dead-lettering off'],
    [['redrive', '--route', 'welcome', '--reason', 'bored'], '--reason takes retries-exhausted'],
    [['redrive', '--route', 'welcome', '--limit', '0'], '--limit takes a whole number'],
    [['redrive'], 'redrive needs --route NAME'],
  ];
  for (const [args, message] of cases) {
    const result = await warren([...args, '-f', dir], env);
    expect(result.code).toBe(1);
    expect(result.err).toContain(message);
  }
});
