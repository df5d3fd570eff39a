import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

/** Thrown for failures a user can act on; the CLI prints only the message. */
export class KubeError extends Error {
  override name = 'KubeError';
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or the deadline passes. */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await sleep(intervalMs);
  }
  return false;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

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

export function tail(file: string, lines = 25): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
