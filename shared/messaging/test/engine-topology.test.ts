/**
 * The module on the topology the real engine declares (`warren apply`), each service connected
 * as its own broker user with the permissions Warren grants it: the passive start-up check, the
 * outbox, the consumer and the retry / dead-letter protocol all work within them.
 */
import { connect } from 'amqplib';
import { Client } from 'pg';
import type { PoolClient } from 'pg';
import { WARREN_HEADERS, type ServiceTopology } from '@warren/contracts';
import { createTestDatabase, eventually, type TestDatabase } from '@warren/testing';
import {
  HandlerRegistry,
  TopologyMissingError,
  WarrenMessaging,
  migrationSql,
  pgTransactions,
} from '../src';
import { retryPolicy, route } from '../../../operator/test/resources';
import {
  cliEnv,
  serviceAmqpUrl,
  warren,
  writeResources,
} from '../../../operator/test/broker-helpers';
import { suiteServers, testLogger, type SuiteServers } from './support/suite';

describe('on the topology applied by the engine', () => {
  let servers: SuiteServers;
  let userDatabase: TestDatabase;
  let dir: string;
  const running: WarrenMessaging<PoolClient>[] = [];

  async function topologyOf(service: string): Promise<ServiceTopology> {
    const result = await warren(
      ['topology', '-f', dir, '--service', service],
      cliEnv(servers.vhost),
    );
    expect(result.code).toBe(0);
    return JSON.parse(result.out) as ServiceTopology;
  }

  function service(
    name: string,
    password: string,
    topology: ServiceTopology,
    databaseUrl: string,
    handlers?: HandlerRegistry<PoolClient>,
  ) {
    const messaging = new WarrenMessaging<PoolClient>({
      service: name,
      topology,
      amqpUrl: serviceAmqpUrl(servers.vhost, `warren-${name}@${servers.vhost.vhost}`, password),
      databaseUrl,
      transactions: handlers ? pgTransactions(servers.pool) : undefined,
      handlers,
      logger: testLogger,
    });
    running.push(messaging);
    return messaging;
  }

  beforeAll(async () => {
    servers = await suiteServers('messaging_engine');
    userDatabase = await createTestDatabase('messaging_engine_users');
    const client = new Client({ connectionString: userDatabase.url });
    await client.connect();
    await client.query(migrationSql());
    await client.end();
    dir = await writeResources([
      retryPolicy('fast-three-strikes', {
        maxAttempts: 3,
        backoff: { type: 'exponential', initialDelay: '100ms', multiplier: 2, maxDelay: '1s' },
        nonRetryableErrors: ['ValidationError'],
      }),
      route('welcome', { retryPolicyRef: { name: 'fast-three-strikes' } }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.splice(0).map((m) => m.stop().catch(() => undefined)));
    await userDatabase?.dispose();
    await servers?.dispose();
  });

  it('fails to start before the route is applied, then publishes, consumes, retries and dead-letters within the granted permissions', async () => {
    const notificationTopology = await topologyOf('notification-service');
    const [queue] = notificationTopology.consumes;
    const early = new WarrenMessaging<PoolClient>({
      service: 'notification-service',
      topology: notificationTopology,
      amqpUrl: servers.vhost.amqpUrl,
      databaseUrl: servers.database.url,
      logger: testLogger,
    });
    const failure = await early.start().catch((error: Error) => error);
    expect(failure).toBeInstanceOf(TopologyMissingError);
    expect((failure as Error).message).toContain(`queue "${queue.queue}"`);
    expect((failure as Error).message).toContain(`EventRoute ${queue.route}`);

    const applied = await warren(['apply', '-f', dir], cliEnv(servers.vhost));
    expect(applied.code).toBe(0);

    const attempts = new Map<string, number[]>();
    const handlers = new HandlerRegistry<PoolClient>().on('user.created', async (event, ctx) => {
      attempts.set(event.payload.userId, [
        ...(attempts.get(event.payload.userId) ?? []),
        ctx.attempt,
      ]);
      if (event.payload.userId === 'poison') throw new Error('mail server said no');
      await ctx.tx.query('INSERT INTO effects (event_id, note) VALUES ($1, $2)', [
        event.id,
        event.payload.userId,
      ]);
    });
    const notifications = service(
      'notification-service',
      'notification-secret',
      notificationTopology,
      servers.database.url,
      handlers,
    );
    await notifications.start();
    const users = service(
      'user-service',
      'user-secret',
      await topologyOf('user-service'),
      userDatabase.url,
    );
    await users.start();

    const userPool = users.pool;
    for (const userId of ['ann', 'poison']) {
      const client = await userPool.connect();
      await client.query('BEGIN');
      await users.outbox.enqueue(client, 'user.created', {
        userId,
        email: `${userId}@example.com`,
        name: userId,
      });
      await client.query('COMMIT');
      client.release();
    }

    await eventually('the welcome effect', async () => {
      const { rows } = await servers.pool.query("SELECT 1 FROM effects WHERE note = 'ann'");
      return rows.length === 1 ? true : undefined;
    });
    const admin = await connect(servers.vhost.amqpUrl);
    try {
      const channel = await admin.createChannel();
      const dead = await eventually('the dead letter', async () => {
        const message = await channel.get(queue.deadLetter!.queue, { noAck: true });
        return message || undefined;
      });
      expect(attempts.get('poison')).toEqual([1, 2, 3]);
      expect(attempts.get('ann')).toEqual([1]);
      expect(dead.properties.headers).toMatchObject({
        [WARREN_HEADERS.reason]: 'retries-exhausted',
        [WARREN_HEADERS.attempt]: 3,
        [WARREN_HEADERS.error]: 'mail server said no',
        [WARREN_HEADERS.originalExchange]: 'user.events',
        [WARREN_HEADERS.originalRoutingKey]: 'user.created',
        [WARREN_HEADERS.originalQueue]: queue.queue,
      });
    } finally {
      await admin.close();
    }
  });
});
