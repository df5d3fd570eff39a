/**
 * `npm run kube -- up [--node]|down|kubeconfig|status|build [--node]`: a long-lived control plane
 * for people, so `kubectl --kubeconfig $(npm run -s kube -- kubeconfig) apply -f examples/` works
 * with no cluster. With --node it also runs a kubelet node (node.ts) that runs real pods.
 */
import * as path from 'node:path';
import { ensureKubeBinaries } from '../kube/build';
import { ControlPlane } from '../kube/control-plane';
import { NodeCluster } from '../kube/node';
import { stateRoot } from '../kube/paths';
import { KubeError } from '../kube/proc';

const stateDir = path.join(stateRoot(), 'kube');
const say = (line: string) => process.stderr.write(`${line}\n`);
const notRunning = 'no control plane is running: start one with `npm run kube -- up`';

async function up(flags: Flags): Promise<void> {
  const running = ControlPlane.open(stateDir);
  const withNode = NodeCluster.open(stateDir) !== undefined;
  if (running && (withNode || !flags.node)) {
    say(`already running at ${running.server}${withNode ? ' with a node' : ''}`);
  } else if (running) {
    throw new KubeError(
      'a control plane without a node runs: stop it first (npm run kube -- down)',
    );
  } else {
    // kubectl is built too (people use it), the tests never need it.
    const binaries = await ensureKubeBinaries({ kubectl: true, log: say });
    const plane = flags.node
      ? (await NodeCluster.start({ stateDir, detached: true, log: say })).plane
      : await ControlPlane.start({ stateDir, detached: true, binaries, log: say });
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
  const node = NodeCluster.open(stateDir);
  if (node) {
    say(`node: ${node.nodeName} (pods reach the host's 127.0.0.1 at ${node.hostAddress})`);
    say(`containerd: ctr --address ${node.containerdSocket} -n k8s.io images ls`);
    say(`node logs: ${stateDir}/node/*.log`);
  }
}

/** Builds (or finds) the binaries only: a CI step of its own, so a cold build shows up in its own log. */
async function build(flags: Flags): Promise<void> {
  const binaries = await ensureKubeBinaries({ kubectl: true, node: flags.node, log: say });
  say(
    `kube-apiserver: ${binaries.kubeApiserver}\netcd: ${binaries.etcd}\nhelm: ${binaries.helm}\nkubectl: ${binaries.kubectl}`,
  );
  for (const [name, file] of Object.entries(binaries.node ?? {})) say(`${name}: ${file}`);
}

interface Flags {
  node: boolean;
}

const FLAGS: Record<string, string[]> = { up: ['--node'], build: ['--node'] };

const commands: Record<string, (flags: Flags) => Promise<void> | void> = {
  up,
  down,
  kubeconfig,
  status,
  build,
};

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  const command = name === undefined ? undefined : commands[name];
  const allowed = (name && FLAGS[name]) || [];
  if (!command || rest.some((flag) => !allowed.includes(flag))) {
    say(
      `unknown command "${[name, ...rest].filter(Boolean).join(' ')}": use npm run kube -- up [--node]|down|kubeconfig|status|build [--node]`,
    );
    process.exitCode = 2;
    return;
  }
  await command({ node: rest.includes('--node') });
}

main().catch((error: unknown) => {
  say(
    error instanceof KubeError
      ? `error: ${error.message}`
      : String((error as Error).stack ?? error),
  );
  process.exitCode = 1;
});
