/**
 * `npm run kube -- ...` as people use it: up, kubeconfig for kubectl, status, down.
 * It runs in its own state folder, so a control plane someone keeps up is never touched.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureKubeBinaries, newRunDir, type KubeBinaries } from '../src/kube';

const repoRoot = path.resolve(__dirname, '../../..');
const stateDir = newRunDir('cli'); // cleaned up by the next run should this one be killed
let binaries: KubeBinaries;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: repoRoot, env: { ...process.env, WARREN_STATE_DIR: stateDir } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const kube = (...args: string[]) =>
  exec(process.execPath, [
    '--conditions=warren-source',
    '--import',
    'tsx',
    'shared/testing/src/cli/kube.ts',
    ...args,
  ]);

beforeAll(async () => {
  binaries = await ensureKubeBinaries({ kubectl: true });
}, 45 * 60_000);

afterAll(async () => {
  await kube('down');
  fs.rmSync(stateDir, { recursive: true, force: true });
});

test('an unknown sub-command says what to do, in one line', async () => {
  const result = await kube('start');
  expect(result.code).toBe(2);
  expect(result.stderr).toBe(
    'unknown command "start": use npm run kube -- up [--node]|down|kubeconfig|status|build [--node]\n',
  );
});

test('kubeconfig without a running control plane tells how to start one', async () => {
  const result = await kube('kubeconfig');
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('npm run kube -- up');
  expect(result.stdout).toBe('');
});

test('up, then kubectl with the printed kubeconfig, then down', async () => {
  const up = await kube('up');
  expect(up.stderr).toMatch(/control plane v1\.\d+\.\d+ ready in [\d.]+ s/);
  expect(up.code).toBe(0);

  const again = await kube('up');
  expect(again.stderr).toContain('already running');

  const kubeconfig = (await kube('kubeconfig')).stdout.trim();
  expect(fs.existsSync(kubeconfig)).toBe(true);
  const kubectl = (...args: string[]) =>
    exec(binaries.kubectl!, ['--kubeconfig', kubeconfig, ...args]);
  const namespaces = await kubectl('get', 'namespaces', '-o', 'name');
  expect(namespaces.stdout).toContain('namespace/default');
  const applied = await kubectl('apply', '-f', path.join(__dirname, 'fixtures', 'crds'));
  expect(applied.stdout).toContain(
    'customresourcedefinition.apiextensions.k8s.io/widgets.test.warren.dev',
  );

  expect((await kube('status')).code).toBe(0);
  const down = await kube('down');
  expect(down.stderr).toContain('control plane stopped');
  const status = await kube('status');
  expect(status.code).toBe(3);
  expect(status.stderr).toBe('stopped\n');
}, 120_000);
