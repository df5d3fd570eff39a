/**
 * The `npm run infra` command as a user meets it: idempotent up, a clean down, and one-line
 * errors for bad input. Runs a second, private set of servers on their own ports and state.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../src';

const cli = path.join(repoRoot, 'shared/testing/src/cli/infra.ts');

function infra(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=warren-source', '--import', 'tsx', cli, ...args],
      { env: { ...process.env, ...env }, cwd: repoRoot, timeout: 170_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Pids of processes whose command line mentions the folder: what the project started there. */
function processesUsing(folder: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(folder);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('npm run infra', () => {
  it('rejects an unknown sub-command with one line that says what to do', async () => {
    const result = await infra(['upp'], {});
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain("unknown sub-command 'upp'");
    expect(result.stderr).toContain('up|down|status|env');
  });

  it('refuses a RabbitMQ version it cannot run, naming the ones it can', async () => {
    const result = await infra(['env', '--rabbitmq', '3.13'], {});
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('WARREN_RABBITMQ_VERSION=3.13');
    expect(result.stderr).toContain('3.10, 4.0, 4.3');
    const missing = await infra(['up', '--cluster'], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--cluster needs a value');
  });

  it('prints every node of a cluster in env', async () => {
    const result = await infra(['env', '--rabbitmq', '4.0', '--cluster', '3'], {
      WARREN_STATE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'warren-infra-')),
      WARREN_RABBITMQ_PORT: '7000',
      WARREN_RABBITMQ_MANAGEMENT_PORT: '17000',
      WARREN_RABBITMQ_NODE_PORT_STEP: '10',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "RABBITMQ_URLS='amqp://guest:guest@127.0.0.1:7000,amqp://guest:guest@127.0.0.1:7010,amqp://guest:guest@127.0.0.1:7020'",
    );
    expect(result.stdout).toContain(
      "RABBITMQ_MANAGEMENT_URLS='http://guest:guest@127.0.0.1:17000,http://guest:guest@127.0.0.1:17010,http://guest:guest@127.0.0.1:17020'",
    );
    expect(result.stdout).toContain("RABBITMQ_VERSION='4.0'");
  });

  it('refuses a port that is already taken, naming the port and the variable to change', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const state = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-infra-'));
      const result = await infra(['up'], {
        WARREN_STATE_DIR: state,
        WARREN_RABBITMQ_PORT: String(port),
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`port ${port} (RabbitMQ AMQP) is already taken`);
      expect(result.stderr).toContain('WARREN_RABBITMQ_PORT');
    } finally {
      blocker.close();
    }
  });

  it('comes up twice in a row, reports status, and leaves no process after down', async () => {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-infra-'));
    fs.chmodSync(state, 0o755);
    const env = {
      WARREN_STATE_DIR: state,
      WARREN_RABBITMQ_PORT: String(await freePort()),
      WARREN_RABBITMQ_DIST_PORT: String(await freePort()),
      WARREN_RABBITMQ_MANAGEMENT_PORT: String(await freePort()),
      WARREN_RABBITMQ_PROMETHEUS_PORT: String(await freePort()),
      WARREN_RABBITMQ_NODENAME: `warren-cli-test-${process.pid}@localhost`,
      WARREN_POSTGRES_PORT: String(await freePort()),
      WARREN_PROMETHEUS_PORT: String(await freePort()),
      WARREN_ALERTMANAGER_PORT: String(await freePort()),
      WARREN_ALERT_WEBHOOK_PORT: String(await freePort()),
    };
    try {
      const first = await infra(['up'], env);
      expect(first).toMatchObject({ code: 0 });
      expect(first.stdout).toContain(
        `RABBITMQ_URL=amqp://guest:guest@127.0.0.1:${env.WARREN_RABBITMQ_PORT}`,
      );
      expect(processesUsing(state).length).toBeGreaterThan(0);

      const second = await infra(['up'], env);
      expect(second.code).toBe(0);
      expect(second.stderr).toContain('everything was already running');

      const status = await infra(['status'], env);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/rabbitmq\s+running/);
      expect(status.stdout).toMatch(/postgres\s+running/);
      expect(status.stdout).toMatch(/prometheus\s+running/);
      expect(status.stdout).toMatch(/alertmanager\s+running/);
      expect(status.stdout).toMatch(/alert-receiver\s+running/);
    } finally {
      const down = await infra(['down'], env);
      expect(down.code).toBe(0);
    }
    expect(processesUsing(state)).toEqual([]);
    const status = await infra(['status'], env);
    expect(status.code).toBe(3);
  }, 180_000);
});
