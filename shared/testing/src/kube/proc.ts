import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

/** Thrown for failures a user can act on; the CLI prints only the message. */
export class KubeError extends Error {
  override name = 'KubeError';
}

// Shared with the local servers: one copy of the process helpers.
import { isAlive, waitUntil } from '../infra/process';
export { isAlive, sleep, tail, waitUntil } from '../infra/process';

/** True while any process of the group lives. */
export function groupAlive(pgid: number): boolean {
  return isAlive(-pgid);
}

/** True when the group leader's command line mentions `needle`: a recycled pid is never ours. */
export function isGroupOf(pgid: number, needle: string): boolean {
  try {
    const commandLine = fs.existsSync('/proc/self')
      ? fs.readFileSync(`/proc/${pgid}/cmdline`, 'utf8')
      : execFileSync('ps', ['-o', 'command=', '-p', String(pgid)], { encoding: 'utf8' }); // macOS
    return commandLine.includes(needle);
  } catch {
    return false;
  }
}

/**
 * SIGKILL to whole groups, synchronously: usable in 'exit' handlers where nothing async runs.
 * Never SIGTERM: the control plane's state is thrown away, and kube-apiserver's graceful
 * shutdown would only add ~10 s to every stop.
 */
export function killGroupsNow(pgids: number[]): void {
  for (const pgid of pgids) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Kills the groups and waits until none of their processes is left. */
export async function killGroups(pgids: number[]): Promise<void> {
  killGroupsNow(pgids);
  await waitUntil(async () => !pgids.some(groupAlive), 5000, 20);
}

/** `count` distinct free loopback ports (all held open at once so none repeats). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Runs the server under a shell that kills it when the owner's end of stdin closes: whatever
 * ends the owner (test failure, Ctrl-C, SIGKILL of a Jest worker), no server outlives it.
 * The shell itself exits when the server does, so a live process group means a live server.
 */
const WATCHDOG = `exec 3<&0
"$@" </dev/null 3<&- &
server=$!
( while read -r _; do :; done; kill -KILL "$server" 2>/dev/null ) <&3 &
watcher=$!
exec 3<&-
wait "$server"
code=$?
kill "$watcher" 2>/dev/null
exit "$code"`;

/**
 * Starts a server in its own process group, output appended to `logFile`; returns the group id.
 * Not detached, it dies with this process: see WATCHDOG.
 */
export function spawnServer(
  logFile: string,
  command: string,
  args: string[],
  detached: boolean,
  onExit: () => void,
): number {
  const out = fs.openSync(logFile, 'a');
  // Own process group either way, so a stop reaches every process it started.
  const child = detached
    ? spawn(command, args, { detached: true, stdio: ['ignore', out, out] })
    : spawn('/bin/sh', ['-c', WATCHDOG, 'warren-kube-watchdog', command, ...args], {
        detached: true,
        stdio: ['pipe', out, out],
      });
  fs.closeSync(out);
  child.once('exit', onExit);
  child.once('error', onExit);
  // Neither the child nor the watchdog pipe may keep this process alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  if (child.pid === undefined) throw new KubeError(`could not start ${command}`);
  return child.pid;
}
