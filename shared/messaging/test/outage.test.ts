import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { eventually, loadInfraConfig, RabbitMqServer, type InfraConfig } from '@warren/testing';
import { declareTopology, testTopology } from './support/topology';
import {
  commitEvent,
  effectCounts,
  orderPayload,
  recordingMessaging,
  suiteServers,
  testLogger,
  type SuiteServers,
} from './support/suite';

/**
 * A real outage: this suite starts a second, private RabbitMQ node (its own state folder and
 * ports, so the shared broker of the other suites is untouched), stops it while the service
 * keeps writing, and starts it again.
 */
function privateBrokerConfig(): InfraConfig {
  // Below Linux's ephemeral range (32768-60999): the node is restarted on the same ports after
  // the outage, and a port in that range can meanwhile be taken as the local end of some
  // outgoing connection (seen in CI: eaddrinuse on the restart). 21000-24998 and 11000-14999
  // hold none of the project's fixed ports.
  const base = 21_000 + Math.floor(Math.random() * 2_000) * 2;
  const { version, epmdPort } = loadInfraConfig().rabbitmq; // the run's broker version
  return {
    stateDir: fs.mkdtempSync(path.join(os.tmpdir(), 'warren-outage-')),
    rabbitmq: {
      amqpPort: base,
      distPort: base + 1,
      managementPort: base - 10_000,
      prometheusPort: base - 9_999,
      nodeName: `warren-outage-${process.pid}@localhost`,
      version,
      epmdPort,
    },
    postgres: { port: 0 },
    prometheus: { port: 0 },
    alertmanager: { port: 0, webhookPort: 0 },
  };
}

describe('broker outage', () => {
  jest.setTimeout(180_000);
  let servers: SuiteServers;
  let broker: RabbitMqServer;
  let config: InfraConfig;
  const log = (line: string) => testLogger.info(line);

  beforeAll(async () => {
    servers = await suiteServers('messaging_outage');
    // A random port can be taken by the time the node binds it (another suite's server, a
    // socket in TIME_WAIT): a failed start gets new ports, as the kube control plane does.
    for (let attempt = 1; ; attempt++) {
      config = privateBrokerConfig();
      broker = new RabbitMqServer(config);
      try {
        await broker.start(log);
        break;
      } catch (error) {
        await broker.stop(log).catch(() => undefined);
        fs.rmSync(config.stateDir, { recursive: true, force: true });
        if (attempt === 3) throw error;
        log(`private broker did not start (${String(error)}); retrying on new ports`);
      }
    }
  }, 240_000);

  afterAll(async () => {
    await broker?.stop(log).catch(() => undefined);
    fs.rmSync(config.stateDir, { recursive: true, force: true });
    await servers?.dispose();
  });

  it('keeps accepting writes while the broker is down; afterwards every event arrives, none has its effect twice', async () => {
    const amqpUrl = `amqp://guest:guest@127.0.0.1:${config.rabbitmq.amqpPort}`;
    const topology = testTopology('outage', { vhost: '/' });
    await declareTopology(amqpUrl, topology);
    const messaging = recordingMessaging(servers, 'outage', topology, amqpUrl);
    await messaging.start();
    // Stopped whatever happens: a relay left running would fail the next suite of this worker.
    try {
      let written = 0;
      const write = async (count: number) => {
        for (let i = 0; i < count; i++) {
          written += 1;
          await commitEvent(servers.pool, messaging.outbox, orderPayload(`o-${written}`), {
            aggregateKey: `o-${written % 7}`,
          });
        }
      };
      const effects = () => effectCounts(servers.pool);

      await write(50);
      await eventually('the first events', async () =>
        (await effects()).total === 50 ? true : undefined,
      );

      await broker.stop(log);
      await eventually('the module to notice', async () =>
        messaging.health().broker === 'disconnected' ? true : undefined,
      );
      expect(messaging.health().ready).toBe(false);
      await write(150); // the service keeps accepting writes
      expect((await messaging.backlog()).size).toBe(150);

      await broker.start(log);
      await eventually(
        'the backlog to drain and every event to be handled',
        async () => ((await effects()).total >= 200 ? true : undefined),
        90_000,
      );
      await new Promise((r) => setTimeout(r, 1_000)); // any redelivery would be handled by now
      expect(await effects()).toEqual({ total: 200, distinct: 200 });
      expect(messaging.health()).toMatchObject({
        ready: true,
        broker: 'connected',
        consumers: 'subscribed',
      });
      expect((await messaging.backlog()).size).toBe(0);
    } finally {
      await messaging.stop();
    }
  });
});
