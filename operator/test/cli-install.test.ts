/**
 * `warren` as users install it: the CLI package packed (`npm pack`, whose prepack bundles it) and
 * installed into an empty prefix, run from a folder outside the repository with a bare PATH;
 * and `npx warren` after `npm ci`. Both run validate, plan (against the real broker) and
 * --version. About 20-40 s on an idle machine (the pack's bundle ~1 s, the install ~3 s, each
 * CLI start ~0.5 s).
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { TestVhost } from '@warren/testing';
import { createTestVhost } from '@warren/testing';
import { EXAMPLES } from './resources';

const exec = promisify(execFile);
const ROOT = resolve(__dirname, '../..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with only node on PATH and none of npm's or the test's variables. */
async function runBare(
  file: string,
  args: string[],
  cwd: string,
  extra: NodeJS.ProcessEnv = {},
): Promise<Run> {
  const env = {
    PATH: [dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
    HOME: cwd,
    npm_config_update_notifier: 'false',
    ...extra,
  };
  try {
    const { stdout, stderr } = await exec(file, args, { cwd, env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('the warren CLI as installed', () => {
  let vhost: TestVhost;
  let dir: string;
  let work: string;
  let brokerEnv: NodeJS.ProcessEnv;
  let cliVersion: string;

  beforeAll(async () => {
    vhost = await createTestVhost('cli_install');
    brokerEnv = { RABBITMQ_URL: vhost.amqpUrl, RABBITMQ_MANAGEMENT_URL: vhost.managementUrl };
    dir = await mkdtemp(join(tmpdir(), 'warren-install-'));
    work = join(dir, 'work');
    await cp(EXAMPLES, work, { recursive: true });
    cliVersion = JSON.parse(
      await readFile(join(ROOT, 'operator/cli/package.json'), 'utf8'),
    ).version;
  }, 120_000);

  afterAll(async () => {
    await vhost?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** validate, plan and --version through `bin`, run from the folder outside the repository. */
  async function expectWorkingCli(bin: (args: string[]) => Promise<Run>) {
    const version = await bin(['--version']);
    expect(version).toEqual({ code: 0, stdout: `warren ${cliVersion}\n`, stderr: '' });

    const validated = await bin(['validate', '-f', '.']);
    expect(validated).toMatchObject({ code: 0, stdout: '5 resources in 3 files are valid.\n' });

    // Nothing applied in the fresh vhost: everything is to create.
    const planned = await bin(['plan', '-f', '.', '--detailed-exitcode']);
    expect(planned.stderr).toBe('');
    expect(planned.code).toBe(2);
    expect(planned.stdout).toContain('+ queue notification-service.user-created-to-notification');
    expect(planned.stdout).toMatch(/Plan: \d+ to create, 0 to update, 0 to delete/);
  }

  it('packs into a package without dependencies that runs from an empty prefix', async () => {
    const pack = await exec('npm', ['pack', '--pack-destination', dir, '--json'], {
      cwd: join(ROOT, 'operator/cli'),
      timeout: 120_000,
    });
    const [{ filename, files }] = JSON.parse(pack.stdout) as [
      { filename: string; files: { path: string }[] },
    ];
    expect(files.map((f) => f.path).sort()).toEqual([
      'bin/kubectl-warren.js',
      'bin/launch.js',
      'bin/warren.js',
      'dist/warren.cjs',
      'dist/warren.cjs.LEGAL.txt',
      'package.json',
    ]);
    const prefix = join(dir, 'prefix');
    // --offline: the package needs nothing from a registry.
    await exec(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--offline',
        '--no-audit',
        '--no-fund',
        join(dir, filename),
      ],
      { cwd: work, timeout: 120_000 },
    );
    const installed = join(prefix, 'lib/node_modules/@warren/cli');
    expect(
      JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')).dependencies,
    ).toBeUndefined();
    expect(await readdir(installed)).not.toContain('node_modules');

    await expectWorkingCli((args) => runBare(join(prefix, 'bin/warren'), args, work, brokerEnv));
    const plugin = await runBare(join(prefix, 'bin/kubectl-warren'), ['--help'], work);
    expect(plugin.stdout).toMatch(/^Usage: kubectl warren <command>/);
  }, 300_000);

  it('runs as `npx warren` after npm ci (the sources, no build needed)', async () => {
    // npx from the repository; the resources and the working folder outside it.
    const npx = (args: string[]) =>
      runBare(
        'npx',
        ['--no-install', 'warren', ...args.map((a) => (a === '.' ? work : a))],
        ROOT,
        brokerEnv,
      );
    await expectWorkingCli(npx);
    // The bin itself, started from outside the repository.
    await expectWorkingCli((args) =>
      runBare(join(ROOT, 'node_modules/.bin/warren'), args, work, brokerEnv),
    );
  }, 300_000);
});
