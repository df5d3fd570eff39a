/**
 * `npm run kube -- up|down|kubeconfig|status|build`: a long-lived control plane for people, so
 * `kubectl --kubeconfig $(npm run -s kube -- kubeconfig) apply -f examples/` works with no cluster.
 */
import * as path from 'node:path';
import { ensureKubeBinaries } from '../kube/build';
import { ControlPlane } from '../kube/control-plane';
import { stateRoot } from '../kube/paths';
import { KubeError } from '../kube/proc';

const stateDir = path.join(stateRoot(), 'kube');
const say = (line: string) => process.stderr.write(`${line}\n`);
const notRunning = 'no control plane is running: start one with `npm run kube -- up`';

async function up(): Promise<void> {
  const running = ControlPlane.open(stateDir);
  if (running) {
    say(`already running at ${running.server}`);
  } else {
    // kubectl is built too (people use it), the tests never need it.
    const binaries = await ensureKubeBinaries({ kubectl: true, log: say });
    const plane = await ControlPlane.start({ stateDir, detached: true, binaries, log: say });
    const crds = await plane.installCrds();
    say(`CRDs installed: ${crds.length > 0 ? crds.join(', ') : 'none (crds/ is empty)'}`);
    if (binaries.kubectl) say(`kubectl: ${binaries.kubectl}`);
  }
  say(`use it: kubectl --kubeconfig $(npm run -s kube -- kubeconfig) get namespaces`);
  say('stop it: npm run kube -- down');
}

async function down(): Promise<void> {
  const running = ControlPlane.open(stateDir) !== undefined;
  await ControlPlane.stopAt(stateDir);
  say(running ? 'control plane stopped' : 'no control plane was running (state cleaned)');
}

function kubeconfig(): void {
  const running = ControlPlane.open(stateDir);
  if (!running) throw new KubeError(notRunning);
  process.stdout.write(`${running.kubeconfigPath}\n`); // only the path: made for $(...)
}

function status(): void {
  const running = ControlPlane.open(stateDir);
  if (!running) {
    say('stopped');
    process.exitCode = 3;
    return;
  }
  say(`running: Kubernetes ${running.kubernetesVersion} at ${running.server}`);
  say(`kubeconfig: ${running.kubeconfigPath}`);
  say(`logs: ${stateDir}/{etcd,kube-apiserver}.log`);
}

/** Builds (or finds) the binaries only: a CI step of its own, so a cold build shows up in its own log. */
async function build(): Promise<void> {
  const binaries = await ensureKubeBinaries({ kubectl: true, log: say });
  say(
    `kube-apiserver: ${binaries.kubeApiserver}\netcd: ${binaries.etcd}\nhelm: ${binaries.helm}\nkubectl: ${binaries.kubectl}`,
  );
}

const commands: Record<string, () => Promise<void> | void> = {
  up,
  down,
  kubeconfig,
  status,
  build,
};

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  const command = name === undefined ? undefined : commands[name];
  if (!command || rest.length > 0) {
    say(
      `unknown command "${[name, ...rest].filter(Boolean).join(' ')}": use npm run kube -- up|down|kubeconfig|status|build`,
    );
    process.exitCode = 2;
    return;
  }
  await command();
}

main().catch((error: unknown) => {
  say(
    error instanceof KubeError
      ? `error: ${error.message}`
      : String((error as Error).stack ?? error),
  );
  process.exitCode = 1;
});
