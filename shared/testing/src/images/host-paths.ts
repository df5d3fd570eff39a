/**
 * Some daemons write a few paths outside their configured folders no matter what (dockerd:
 * /run/docker, /etc/docker/key.json; containerd's shims: /run/containerd/s). We note which of them
 * did not exist before our daemon started, and remove exactly those when it stops, unless another
 * daemon of the same kind (another checkout's, the node's) still runs and may be using them.
 */
import * as fs from 'node:fs';
import { run } from '../infra/process';

/** Call before starting the daemon: records which of `paths` are missing now (first start wins). */
export function recordMissingHostPaths(recordFile: string, paths: readonly string[]): void {
  if (fs.existsSync(recordFile)) return;
  fs.writeFileSync(
    recordFile,
    JSON.stringify(paths.filter((hostPath) => !fs.existsSync(hostPath))),
  );
}

/** Call after the daemon stopped: removes the recorded paths unless `processName` still runs. */
export async function removeRecordedHostPaths(
  recordFile: string,
  processName: string,
): Promise<void> {
  let created: string[];
  try {
    created = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as string[];
  } catch {
    return; // never started here
  }
  const { stdout } = await run('pgrep', ['-x', processName]);
  if (stdout.trim() === '') {
    for (const hostPath of created) fs.rmSync(hostPath, { recursive: true, force: true });
  }
  fs.rmSync(recordFile, { force: true });
}

/** Unmounts (lazily, deepest first) every mount below `dir`. */
export async function unmountUnder(dir: string): Promise<void> {
  const prefix = `${dir.replace(/\/+$/, '')}/`;
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mountPoint): mountPoint is string => !!mountPoint && mountPoint.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mounts) await run('umount', ['-l', mountPoint]);
}
