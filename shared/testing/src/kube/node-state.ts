/** What a running node leaves in the state folder, and how to stop it from there. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NodeBinaries } from './build';
import { removeCgroupRoot, waitNamespaceEmpty } from './node-namespace';
import { isGroupOf, killGroups, killGroupsNow } from './proc';

const NODE_STATE = 'node.json';

/** What the node leaves on disk, next to the control plane's state.json. */
export interface NodeState {
  /** Process groups on the host: holder, slirp4netns, containerd, kubelet, kube-proxy, kcm, scheduler. */
  pgids: number[];
  /** The holder's PID 1 (host view) and its PID namespace. */
  holderPid: number;
  pidNamespace: string;
  cgroup: string;
  slirpSocket: string;
  kubeletPort: number;
  /** Host port -> node port forwards added so far. */
  forwards: Record<string, number>;
  binaries: NodeBinaries;
}

export function readNodeState(stateDir: string): NodeState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, NODE_STATE), 'utf8')) as NodeState;
  } catch {
    return undefined;
  }
}

export function writeNodeState(stateDir: string, state: NodeState): void {
  fs.writeFileSync(path.join(stateDir, NODE_STATE), JSON.stringify(state, null, 2));
}

/** Only groups whose leader still runs with this state folder in its command line. */
export function ours(state: NodeState, stateDir: string): number[] {
  return state.pgids.filter((pgid) => isGroupOf(pgid, stateDir));
}

/**
 * Stops the node whose state is in `stateDir` (called by ControlPlane.stopAt before it deletes
 * the folder): kills its processes, waits until its PID namespace is empty (so its mounts are
 * gone), removes its cgroups.
 */
export async function stopNodeAt(stateDir: string): Promise<void> {
  const state = readNodeState(stateDir);
  if (!state) return;
  await killGroups(ours(state, stateDir));
  if (state.pidNamespace) await waitNamespaceEmpty(state.pidNamespace);
  await removeCgroupRoot(state.cgroup);
  fs.rmSync(path.join(stateDir, NODE_STATE), { force: true });
}

/** For exit handlers and stale runs: kill at once; the cgroups go at the next start. */
export function killNodeNow(stateDir: string): void {
  const state = readNodeState(stateDir);
  if (state) killGroupsNow(ours(state, stateDir));
}
