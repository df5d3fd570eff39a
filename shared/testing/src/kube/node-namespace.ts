/**
 * The node's private namespaces. One process (`unshare`) holds a new PID, network and mount
 * namespace; containerd, the kubelet and kube-proxy join it with `nsenter`. So:
 * - the bridge, veths, routes and iptables rules of the pods are in the node's network
 *   namespace; slirp4netns gives it user-mode networking (10.0.2.2 is the host's 127.0.0.1),
 *   and forwards chosen host loopback ports into it. No device, route or rule on the host.
 * - every mount (overlay rootfs, tmpfs of Secrets and tokens, netns bind mounts) is in the
 *   node's mount namespace, whose /run is a tmpfs and whose /var/lib and /var/log are folders
 *   of the state folder: the paths the kubelet and containerd write no matter their config.
 * - the /proc/sys files the kubelet rewrites are covered by plain files (no host sysctl changes).
 * - killing the holder kills the PID namespace, so every process of the node (shims and
 *   containers included) dies with it, and the mounts go with the last of them.
 * Only the cgroups are host-wide: they live under one root per node, removed on stop.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { KUBELET_SYSCTLS } from './node-config';
import { KubeError, waitUntil } from './proc';

const CGROUP_FS = '/sys/fs/cgroup';
const CGROUP_PREFIX = 'warren-node-';

/**
 * Runs as PID 1 of the node's PID namespace: prepares the mount namespace, then waits (and
 * reaps orphans) until killed. $1: the node folder, $2: the holder's cgroup.procs file or "".
 */
const HOLDER = `set -eu
node="$1"
if [ -n "$2" ]; then echo $$ > "$2"; fi
mount --make-rshared /
mount -t tmpfs -o mode=755 warren-run /run
mkdir -p "$node/var-lib" "$node/var-log"
mount --bind "$node/var-lib" /var/lib
mount --bind "$node/var-log" /var/log
for file in "$node"/sysctl/*; do
  mount --bind "$file" "/proc/sys/$(basename "$file" | tr . /)"
done
ip link set lo up
touch "$node/namespace-ready"
while :; do sleep 3600 & wait $! || true; done`;

/** The command that starts the holder. */
export function holderCommand(nodeDir: string, holderCgroupProcs: string): string[] {
  return [
    'unshare',
    '--pid',
    '--fork',
    '--kill-child=SIGKILL',
    '--mount-proc',
    '--net',
    '--mount',
    '--propagation=private',
    'bash',
    '-c',
    HOLDER,
    'warren-node-namespace',
    nodeDir,
    holderCgroupProcs,
  ];
}

/** Files holding the values the kubelet wants, bind-mounted over /proc/sys by the holder. */
export function writeSysctlFiles(nodeDir: string): void {
  const dir = path.join(nodeDir, 'sysctl');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, value] of Object.entries(KUBELET_SYSCTLS))
    fs.writeFileSync(path.join(dir, name.replaceAll('/', '.')), `${value}\n`);
}

/** Runs `command` inside the node's namespaces (`holderPid`: the namespaces' PID 1, host view). */
export function inNode(holderPid: number, command: string, args: string[]): [string, string[]] {
  return [
    'nsenter',
    [`--target=${holderPid}`, '--pid', '--net', '--mount', '--', command, ...args],
  ];
}

/** Runs `command` in the node's network namespace only (the host's files and processes stay). */
export function inNodeNetwork(
  holderPid: number,
  command: string,
  args: string[],
): [string, string[]] {
  return ['nsenter', [`--target=${holderPid}`, '--net', '--', command, ...args]];
}

/**
 * The holder's host pid: the process of its cgroup that is PID 1 of its own PID namespace
 * (/proc/<pid>/status: `NSpid: <host pid> 1`).
 */
export function holderPid(holderCgroupProcs: string): number | undefined {
  const pids = fs.readFileSync(holderCgroupProcs, 'utf8').split('\n').filter(Boolean).map(Number);
  return pids.find((pid) => {
    try {
      const nsPids = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^NSpid:\s+(.*)$/m);
      return nsPids?.[1].trim().split(/\s+/).pop() === '1';
    } catch {
      return false;
    }
  });
}

/** `pid:[4026532...]`: identifies the node's PID namespace while any of its processes lives. */
export function pidNamespaceOf(pid: number): string {
  return fs.readlinkSync(`/proc/${pid}/ns/pid`);
}

/** Host pids of the processes in the PID namespace `namespace`. */
export function processesIn(namespace: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/ns/pid`) === namespace) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

export async function waitNamespaceEmpty(namespace: string, timeoutMs = 15_000): Promise<void> {
  const empty = await waitUntil(async () => processesIn(namespace).length === 0, timeoutMs, 50);
  if (!empty) {
    throw new KubeError(
      `processes of the node still run after ${timeoutMs / 1000} s: ${processesIn(namespace).join(' ')}`,
    );
  }
}

// ---- cgroups ----

/** The cgroup hierarchies of this host: one on cgroup v2, one per mounted controller on v1. */
export function cgroupHierarchies(): string[] {
  if (fs.existsSync(path.join(CGROUP_FS, 'cgroup.controllers'))) return [CGROUP_FS];
  return fs
    .readdirSync(CGROUP_FS)
    .map((entry) => path.join(CGROUP_FS, entry))
    .filter((dir) => {
      try {
        return !fs.lstatSync(dir).isSymbolicLink() && fs.existsSync(path.join(dir, 'cgroup.procs'));
      } catch {
        return false;
      }
    });
}

export const cgroupName = (id: string) => `${CGROUP_PREFIX}${id}`;

/**
 * Creates the node's cgroup root in every hierarchy (the kubelet refuses a cgroupRoot missing
 * from one) and `<root>/holder` for the holder. Returns the holder's cgroup.procs file: a
 * process in the tree marks it as in use (see removeStaleCgroups).
 */
export function createCgroupRoot(name: string): string {
  const hierarchies = cgroupHierarchies();
  for (const hierarchy of hierarchies) {
    for (const dir of [path.join(hierarchy, name), path.join(hierarchy, name, 'holder')]) {
      fs.mkdirSync(dir, { recursive: true });
      // cgroup v1 cpuset: a new cgroup starts with no CPU and no memory node; inherit them.
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        const parent = path.join(path.dirname(dir), file);
        if (fs.existsSync(parent) && fs.readFileSync(path.join(dir, file), 'utf8').trim() === '')
          fs.writeFileSync(path.join(dir, file), fs.readFileSync(parent));
      }
    }
  }
  const pids = hierarchies.find((dir) => path.basename(dir) === 'pids') ?? hierarchies[0];
  return path.join(pids, name, 'holder', 'cgroup.procs');
}

/** Removes the node's cgroup tree, deepest first; its processes must be gone. */
export async function removeCgroupRoot(name: string): Promise<void> {
  const dirs = cgroupHierarchies()
    .flatMap((hierarchy) => subtree(path.join(hierarchy, name)))
    .sort((a, b) => b.split('/').length - a.split('/').length);
  for (const dir of dirs) {
    // A process just killed may leave its cgroup a moment later.
    const removed = await waitUntil(
      async () => {
        try {
          fs.rmdirSync(dir);
          return true;
        } catch (error) {
          return (error as NodeJS.ErrnoException).code === 'ENOENT';
        }
      },
      10_000,
      50,
    );
    if (!removed) throw new KubeError(`could not remove the cgroup ${dir}: still in use`);
  }
}

function subtree(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return [
    dir,
    ...entries.filter((e) => e.isDirectory()).flatMap((e) => subtree(path.join(dir, e.name))),
  ];
}

/** Node cgroup roots without a single process left: their node was killed before its stop. */
export async function removeStaleCgroups(): Promise<void> {
  const names = new Set(
    cgroupHierarchies().flatMap((hierarchy) =>
      fs.readdirSync(hierarchy).filter((entry) => entry.startsWith(CGROUP_PREFIX)),
    ),
  );
  for (const name of names) {
    const inUse = cgroupHierarchies().some((hierarchy) =>
      subtree(path.join(hierarchy, name)).some((dir) => {
        try {
          return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim() !== '';
        } catch {
          return false;
        }
      }),
    );
    if (!inUse) await removeCgroupRoot(name);
  }
}

// ---- slirp4netns ----

/** slirp4netns: user-mode networking for the namespace of `pid`, host loopback reachable. */
export function slirpCommand(pid: number, apiSocket: string): string[] {
  return [
    'slirp4netns',
    '--configure',
    '--mtu=65520',
    `--api-socket=${apiSocket}`,
    String(pid),
    'tap0',
  ];
}

/** Forwards the host's 127.0.0.1:`hostPort` to the node's `guestPort` (slirp4netns API). */
export async function addHostForward(
  apiSocket: string,
  hostPort: number,
  guestPort: number,
): Promise<void> {
  const request = {
    execute: 'add_hostfwd',
    arguments: {
      proto: 'tcp',
      host_addr: '127.0.0.1',
      host_port: hostPort,
      guest_port: guestPort,
    },
  };
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(apiSocket);
    let data = '';
    socket.once('connect', () => socket.end(JSON.stringify(request)));
    socket.on('data', (chunk) => (data += String(chunk)));
    socket.once('end', () => resolve(data));
    socket.once('error', reject);
  });
  const parsed = JSON.parse(reply || '{}') as { error?: { desc?: string } };
  if (parsed.error) {
    throw new KubeError(
      `slirp4netns refused to forward 127.0.0.1:${hostPort}: ${parsed.error.desc ?? reply}`,
    );
  }
}
