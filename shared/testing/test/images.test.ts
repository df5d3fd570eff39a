/**
 * The images as a node runs them: built by `buildImages` (cached base rootfs, layer cache), loaded
 * into a containerd with `docker save | ctr import`, and run by runc with host networking, a
 * read-only root filesystem and the image's own user. Real output only: Prisma's migrations land
 * in a real database, the service answers /healthz and /readyz with its database and broker, the
 * operator image's `warren` CLI validates the examples.
 * Cold (no base rootfs, no layer cache) about 15 min on 2 busy cores; warm about 3 min.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { serviceUserName } from '@warren/operator';
import {
  applyTopology,
  EXAMPLES,
  serviceAmqpUrl,
  servicePasswords,
  writeTopologyDocuments,
} from '@warren/platform';
import { Client } from 'pg';
import {
  buildImages,
  type BuiltImages,
  createTestDatabase,
  createTestVhost,
  eventually,
  loadImages,
  managementRequest,
  repoRoot,
  TestContainerd,
  withImageBuilder,
} from '../src';
import { freePorts } from '../src/kube/proc';

const log = (line: string) => process.stderr.write(`[images test] ${line}\n`);
/** The migration Job's command (operator/src/controller/migration-job.ts), run from the service's folder. */
const PRISMA_CLI = '../../node_modules/prisma/build/index.js';

let built: BuiltImages;
let containerd: TestContainerd;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-images-'));
  const loadMs = await withImageBuilder(async () => {
    built = await buildImages({ keepBuilder: true, log });
    containerd = await TestContainerd.start(log);
    return loadImages([built.operator.ref, built.services['user-service'].ref], {
      containerdSocket: containerd.socket,
      log,
    });
  }, log);
  const images = [built.operator, ...Object.values(built.services)];
  log(
    `built in ${(built.totalMs / 1000).toFixed(1)} s (base rootfs ${(built.base.rootfsMs / 1000).toFixed(1)} s), ` +
      `loaded in ${(loadMs / 1000).toFixed(1)} s; ` +
      images.map((image) => `${image.ref} ${(image.sizeBytes / 1e6).toFixed(0)} MB`).join(', '),
  );
}, 45 * 60_000);

afterAll(async () => {
  await containerd?.stop();
  fs.rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('the user-service image', () => {
  it('runs prisma migrate deploy against a real database, with no engine download', async () => {
    const database = await createTestDatabase('images_migrate');
    try {
      const run = await containerd.runContainer({
        image: built.services['user-service'].ref,
        id: 'migrate-user-service',
        command: ['node', PRISMA_CLI, 'migrate', 'deploy', '--schema', 'prisma'],
        env: { DATABASE_URL: database.url, HOME: '/tmp', CHECKPOINT_DISABLE: '1' },
        timeoutMs: 180_000,
      });
      expect({ code: run.code, stderr: run.stderr }).toEqual({
        code: 0,
        stderr: expect.any(String),
      });
      expect(run.stdout).toMatch(/migrations have been successfully applied/i);
      const committed = fs
        .readdirSync(path.join(repoRoot, 'services/user-service/prisma/migrations'))
        .filter((entry) => !entry.endsWith('.toml'));
      const client = new Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ migration_name: string }>(
          'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name',
        );
        expect(rows.map((row) => row.migration_name)).toEqual(committed.sort());
      } finally {
        await client.end();
      }
    } finally {
      await database.dispose();
    }
  }, 240_000);

  it('serves /healthz and /readyz with its own database and broker user', async () => {
    const database = await createTestDatabase('images_user');
    const vhost = await createTestVhost('images');
    const broker = {
      amqpUrl: vhost.amqpUrl,
      managementUrl: vhost.managementUrl,
      vhost: vhost.vhost,
    };
    const id = 'user-service';
    try {
      const passwords = servicePasswords(path.join(work, 'credentials.json'), ['user-service']);
      await applyTopology(EXAMPLES, broker, passwords);
      const topology = await writeTopologyDocuments(
        EXAMPLES,
        broker,
        ['user-service'],
        path.join(work, 'topology'),
      );
      const migrate = await containerd.runContainer({
        image: built.services['user-service'].ref,
        id: 'migrate-before-start',
        command: ['node', PRISMA_CLI, 'migrate', 'deploy', '--schema', 'prisma'],
        env: { DATABASE_URL: database.url, HOME: '/tmp' },
        timeoutMs: 180_000,
      });
      expect(migrate.code).toBe(0);
      const [port] = await freePorts(1);
      const logFile = path.join(work, 'user-service.log');
      const started = await containerd.runContainer({
        image: built.services['user-service'].ref,
        id,
        detach: { logFile },
        env: {
          PORT: String(port),
          HOST: '127.0.0.1',
          DATABASE_URL: database.url,
          RABBITMQ_URL: serviceAmqpUrl(broker, 'user-service', passwords['user-service']),
          WARREN_TOPOLOGY_FILE: '/etc/warren/topology/user-service.json',
        },
        mounts: { [path.dirname(topology['user-service'])]: '/etc/warren/topology' },
      });
      expect(started.code).toBe(0);
      const base = `http://127.0.0.1:${port}`;
      const serviceLog = () =>
        fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '';
      await eventually(
        'user-service /readyz answers 200',
        async () => {
          const ready = await fetch(`${base}/readyz`);
          if (ready.status !== 200)
            throw new Error(`${ready.status} ${await ready.text()}\n${serviceLog()}`);
          return true;
        },
        120_000,
        500,
      );
      const health = await fetch(`${base}/healthz`);
      expect({ status: health.status, body: await health.json() }).toEqual({
        status: 200,
        body: { status: 'ok' },
      });
      // The process runs as the image's user: uid 1000, never root.
      const { stdout } = await containerd.ctr([
        'task',
        'exec',
        '--exec-id',
        'whoami',
        id,
        'id',
        '-u',
      ]);
      expect(stdout.trim()).toBe('1000');
    } finally {
      await containerd.stopContainer(id).catch(() => undefined);
      const user = `/api/users/${encodeURIComponent(serviceUserName('user-service', vhost.vhost))}`;
      await managementRequest(vhost.managementUrl, 'DELETE', user).catch(() => undefined);
      await vhost.dispose();
      await database.dispose();
    }
  }, 300_000);
});

describe('the operator image', () => {
  it('runs the warren CLI: validates the examples with the CRDs schemas', async () => {
    const run = await containerd.runContainer({
      image: built.operator.ref,
      id: 'warren-validate',
      command: ['node', 'dist/cli/main.js', 'validate', '-f', '/examples'],
      mounts: { [EXAMPLES]: '/examples' },
      env: { HOME: '/tmp' },
    });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/valid/i);
  }, 120_000);
});
