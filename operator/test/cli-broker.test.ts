/**
 * `warren` against the real broker, on the seed topology: apply, plan, drift repair, changes
 * the broker cannot make in place, retention of non-empty queues, and per-service users.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import type { EventRoute, WarrenResource } from '@warren/crds';
import type { TestVhost } from '@warren/testing';
import { brokerVersion, createTestVhost, eventually, managementRequest } from '@warren/testing';
import { brokerProfile } from '../src/engine/broker-version';
import { loadResources } from '../src/cli/load';
import { EXAMPLES } from './resources';
import { cliEnv, queuePath, serviceAmqpUrl, warren, writeResources } from './broker-helpers';

const NOTIFY = 'notification-service.user-created-to-notification';
const OUTCOME = 'notification-service.order-outcome-to-notification';
const USER_QUEUE = 'user-service.order-created-to-user';

describe('warren CLI against a real broker (seed topology)', () => {
  let vhost: TestVhost;
  let env: NodeJS.ProcessEnv;
  let examples: WarrenResource[];

  beforeAll(async () => {
    vhost = await createTestVhost('engine_cli');
    env = cliEnv(vhost);
    examples = (await loadResources(EXAMPLES)).resources;
  });

  afterAll(async () => {
    await vhost.dispose();
  });

  const get = <T>(path: string) => managementRequest<T>(vhost.managementUrl, 'GET', path);

  it('applies examples/, after which `plan --detailed-exitcode` exits 0', async () => {
    const applied = await warren(['apply', '-f', EXAMPLES], env);
    expect(applied.err).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.out).toMatch(/Applied 5[01], skipped 0, retained 0, failed 0/);

    // The real process, for the real exit code.
    const root = resolve(__dirname, '../..');
    const result = await promisify(execFile)(
      process.execPath,
      [
        '--conditions=warren-source',
        '--import',
        'tsx',
        'operator/src/cli/main.ts',
        'plan',
        '-f',
        'examples',
        '--detailed-exitcode',
      ],
      { cwd: root, env: { ...process.env, ...env } },
    );
    expect(result.stdout).toContain('No changes');
  });

  it('plans a queue deleted by hand (exit 2, naming it) and apply brings it back', async () => {
    await managementRequest(vhost.managementUrl, 'DELETE', queuePath(vhost, NOTIFY));
    const planned = await warren(['plan', '-f', EXAMPLES, '--detailed-exitcode'], env);
    expect(planned.code).toBe(2);
    expect(planned.out).toContain(`+ queue ${NOTIFY} (vhost ${vhost.vhost})`);
    // Deleting the queue took its bindings along; they come back too.
    expect(planned.out).toContain(`+ binding user.events -> ${NOTIFY} (user.created)`);

    expect((await warren(['apply', '-f', EXAMPLES], env)).code).toBe(0);
    expect(await get(queuePath(vhost, NOTIFY))).toMatchObject({ name: NOTIFY, type: 'quorum' });
    expect((await warren(['plan', '-f', EXAMPLES, '--detailed-exitcode'], env)).code).toBe(0);
  });

  it('never touches objects it does not own', async () => {
    await managementRequest(vhost.managementUrl, 'PUT', queuePath(vhost, 'hand-made'), {
      durable: true,
      arguments: {},
    });
    const planned = await warren(
      ['plan', '-f', EXAMPLES, '--detailed-exitcode', '-o', 'json'],
      env,
    );
    expect(planned.code).toBe(0);
    expect(planned.out).not.toContain('hand-made');
    expect(await get(queuePath(vhost, 'hand-made'))).toMatchObject({ name: 'hand-made' });
  });

  it('switches dead-lettering off and on again in place, without touching the queue', async () => {
    const deadLetter = (enabled: boolean) =>
      structuredClone(examples).map((resource) => {
        if (resource.metadata.name === 'user-created-to-notification')
          (resource as EventRoute).spec.deadLetter = { enabled };
        return resource;
      });
    const admin = await connect(vhost.amqpUrl);
    const channel = await admin.createChannel();
    /** Puts one message on the queue and has the broker dead-letter it (reject, no requeue). */
    const rejectOne = async () => {
      channel.sendToQueue(NOTIFY, Buffer.from('{}'));
      const message = await eventually('the message on the queue', () => channel.get(NOTIFY));
      channel.nack(message, false, false);
    };
    try {
      const off = await warren(['apply', '-f', await writeResources(deadLetter(false))], env);
      expect(off.code).toBe(0);
      expect(off.out).not.toContain(`queue ${NOTIFY}\n`);
      await expect(get(queuePath(vhost, `${NOTIFY}.dlq`))).rejects.toThrow(/404/);
      await rejectOne();
      // Dropped: the queue's dead-letter exchange does not exist while dead-lettering is off.
      expect((await channel.checkQueue(NOTIFY)).messageCount).toBe(0);

      const on = await warren(['apply', '-f', EXAMPLES], env);
      expect(on.code).toBe(0);
      await rejectOne();
      await eventually(
        'the dead letter',
        async () => (await channel.checkQueue(`${NOTIFY}.dlq`)).messageCount === 1,
      );
      await channel.purgeQueue(`${NOTIFY}.dlq`);
      expect((await warren(['plan', '-f', EXAMPLES, '--detailed-exitcode'], env)).code).toBe(0);
    } finally {
      await admin.close();
    }
  });

  it('reports a queue type change as not possible in place and leaves the broker untouched', async () => {
    const changed = structuredClone(examples).map((resource) => {
      if (
        resource.kind === 'EventRoute' &&
        resource.metadata.name === 'user-created-to-notification'
      ) {
        (resource as EventRoute).spec.consumer.queueType = 'classic';
        (resource as EventRoute).spec.events.push('user.deleted');
      }
      return resource;
    });
    const dir = await writeResources(changed);
    const planned = await warren(['plan', '-f', dir, '--detailed-exitcode', '-o', 'json'], env);
    expect(planned.code).toBe(2);
    const items = JSON.parse(planned.out).items as {
      action: string;
      name: string;
      changes: { field: string }[];
    }[];
    // (On 4.x the quorum-only x-delivery-limit goes too: listed as a second change.)
    expect(items.find((item) => item.name === NOTIFY)).toMatchObject({
      action: 'impossible',
      changes: expect.arrayContaining([{ field: 'type', from: 'quorum', to: 'classic' }]),
    });

    const applied = await warren(['apply', '-f', dir], env);
    expect(applied.code).toBe(1);
    expect(applied.out).toContain(`! queue ${NOTIFY}: RabbitMQ cannot change type`);
    expect(applied.out).toContain(`skipped binding user.events -> ${NOTIFY} (user.deleted)`);
    expect(await get(queuePath(vhost, NOTIFY))).toMatchObject({ type: 'quorum' });
    const bindings = await get<{ routing_key: string }[]>(`${queuePath(vhost, NOTIFY)}/bindings`);
    expect(bindings.map((b) => b.routing_key)).not.toContain('user.deleted');
    expect((await warren(['plan', '-f', EXAMPLES, '--detailed-exitcode'], env)).code).toBe(0);
  });

  it('gives each service a user that can consume its own queue and is refused on another service queue (passive declares of objects it has no right on: refused from 4.2.6)', async () => {
    const strictPassive = brokerProfile(await brokerVersion()).passiveDeclareNeedsPermission;
    const connection = await connect(
      serviceAmqpUrl(vhost, `warren-notification-service@${vhost.vhost}`, 'notification-secret'),
    );
    try {
      const own = await connection.createChannel();
      const { consumerTag } = await own.consume(NOTIFY, () => undefined);
      await own.cancel(consumerTag);
      await own.close();

      const other = await connection.createChannel();
      other.on('error', () => undefined);
      await expect(other.consume(USER_QUEUE, () => undefined)).rejects.toThrow(
        /403 \(ACCESS-REFUSED\)/,
      );
      const publisher = await connection.createChannel();
      publisher.on('error', () => undefined);
      await expect(publisher.checkExchange(`${NOTIFY}.dlx`)).resolves.toBeDefined();
      const foreign = await connection.createChannel();
      foreign.on('error', () => undefined);
      const check = foreign.checkExchange('user.events');
      if (strictPassive) await expect(check).rejects.toThrow(/403 \(ACCESS-REFUSED\)/);
      else await expect(check).resolves.toBeDefined();
    } finally {
      await connection.close().catch(() => undefined);
    }
  });

  it('keeps a non-empty queue (and its group) when its route is removed under Retain, and deletes empty groups', async () => {
    const admin = await connect(vhost.amqpUrl);
    try {
      const channel = await admin.createConfirmChannel();
      channel.publish('order.events', 'order.confirmed', Buffer.from('{"orderId":"o-1"}'), {
        persistent: true,
      });
      await channel.waitForConfirms();
      expect((await channel.checkQueue(OUTCOME)).messageCount).toBe(1);

      const remaining = examples.filter(
        (r) =>
          r.metadata.name !== 'order-outcome-to-notification' &&
          r.metadata.name !== 'user-created-to-notification',
      );
      const applied = await warren(['apply', '-f', await writeResources(remaining)], env);
      expect(applied.code).toBe(0);
      expect(applied.out).toContain(`queue ${OUTCOME}: kept`);
      expect((await channel.checkQueue(OUTCOME)).messageCount).toBe(1);
      expect(
        await get(`/api/exchanges/${encodeURIComponent(vhost.vhost)}/${OUTCOME}.dlx`),
      ).toMatchObject({ type: 'fanout' });
      // The empty group is gone.
      await expect(get(queuePath(vhost, NOTIFY))).rejects.toThrow(/404/);
      await channel.close();
    } finally {
      await admin.close();
    }
  });
});
