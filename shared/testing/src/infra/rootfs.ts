import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureInstalled } from './install';
import { InfraError, run, sleep, waitUntil } from './process';

/**
 * A Debian release of a newer suite than the host's, installed into a folder of the project's
 * cache with mmdebstrap and run from there with chroot: how RabbitMQ 4.x is had on a Debian 12
 * machine without Docker. One folder per suite, shared by every checkout on the machine.
 */
export interface RootfsSpec {
  /** Debian suite, e.g. `trixie`, `forky`. */
  suite: string;
  /** Packages to install into it. */
  packages: string[];
  /** The suite's Release file may be past its Valid-Until date (testing suites). */
  ignoreValidUntil?: boolean;
}

export function rootfsCacheDir(): string {
  return path.join(
    process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'),
    'warren',
    'rootfs',
  );
}

export function rootfsDir(spec: RootfsSpec): string {
  return path.join(rootfsCacheDir(), spec.suite);
}

/** The host's Debian mirror (deb822 sources first, then the one-line format). */
export function hostDebianMirror(): string {
  const candidates = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const file of candidates) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const deb822 = /^URIs:\s*(\S+)/m.exec(text);
    if (deb822 && !deb822[1]!.includes('security')) return deb822[1]!;
    const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/m.exec(text);
    if (oneLine) return oneLine[1]!;
  }
  return 'http://deb.debian.org/debian';
}

const READY_MARKER = '.warren-rootfs-ready';

/**
 * Builds the suite's folder when it is missing (minutes, progress in the log), never rebuilds a
 * finished one. The build goes to a temporary folder renamed at the end, under a lock, so two
 * checkouts starting at once build it once and a half-built folder is never used.
 */
export async function ensureRootfs(spec: RootfsSpec, log: (line: string) => void): Promise<string> {
  const dir = rootfsDir(spec);
  if (fs.existsSync(path.join(dir, READY_MARKER))) return dir;
  if (process.getuid?.() !== 0) {
    throw new InfraError(
      `RabbitMQ from Debian ${spec.suite} needs a root filesystem built with mmdebstrap as root (missing: ${dir})`,
    );
  }
  await ensureInstalled('/usr/bin/mmdebstrap', 'mmdebstrap', log);
  fs.mkdirSync(rootfsCacheDir(), { recursive: true });
  const lock = `${dir}.lock`;
  const locked = await waitUntil(
    async () => {
      try {
        fs.mkdirSync(lock);
        return true;
      } catch {
        if (fs.existsSync(path.join(dir, READY_MARKER))) return true;
        log(`waiting for another build of the ${spec.suite} root filesystem (${lock}) ...`);
        await sleep(4000);
        return false;
      }
    },
    20 * 60_000,
    1000,
  );
  if (!locked) throw new InfraError(`timed out waiting for ${lock}; remove it if no build runs`);
  try {
    if (fs.existsSync(path.join(dir, READY_MARKER))) return dir;
    await build(spec, dir, log);
    return dir;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

async function build(spec: RootfsSpec, dir: string, log: (line: string) => void): Promise<void> {
  const work = `${dir}.building`;
  await unmountAllUnder(work);
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  const mirror = hostDebianMirror();
  const args = [
    '--mode=root',
    '--variant=apt',
    `--include=${spec.packages.join(',')}`,
    ...(spec.ignoreValidUntil ? ['--aptopt=Acquire::Check-Valid-Until "false"'] : []),
    spec.suite,
    work,
    mirror,
  ];
  log(
    `building the Debian ${spec.suite} root filesystem (${spec.packages.join(', ')}) from ${mirror} into ${dir}: 1-3 min ...`,
  );
  const started = Date.now();
  const ticker = setInterval(
    () =>
      log(`  ... still building ${spec.suite} (${Math.round((Date.now() - started) / 1000)} s)`),
    15_000,
  );
  const result = await run('mmdebstrap', args, { timeoutMs: 30 * 60_000 }).finally(() =>
    clearInterval(ticker),
  );
  if (result.code !== 0) {
    throw new InfraError(
      `mmdebstrap ${spec.suite} failed (exit ${result.code}):\n${result.stderr.trim().slice(-3000)}`,
    );
  }
  // Some suites ship no /etc/hosts: an Erlang node named x@localhost then dies with nxdomain.
  const hosts = path.join(work, 'etc', 'hosts');
  if (!fs.existsSync(hosts) || !/\blocalhost\b/.test(fs.readFileSync(hosts, 'utf8'))) {
    fs.writeFileSync(hosts, '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  }
  fs.writeFileSync(path.join(work, READY_MARKER), `${spec.suite} ${new Date().toISOString()}\n`);
  fs.renameSync(work, dir);
  log(`built the ${spec.suite} root filesystem in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = path.resolve(dir);
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => Boolean(point))
    .map((point) => point.replace(/\\040/g, ' '))
    .filter((point) => point === prefix || point.startsWith(`${prefix}/`))
    .sort((a, b) => b.length - a.length);
}

export function isMountPoint(dir: string): boolean {
  return mountsUnder(dir).includes(path.resolve(dir));
}

async function unmountAllUnder(dir: string): Promise<void> {
  for (const point of mountsUnder(dir)) await run('umount', ['-l', point], { timeoutMs: 10_000 });
}

/** Mounts /proc inside the root filesystem unless it already is. */
export async function mountProc(root: string): Promise<void> {
  const target = path.join(root, 'proc');
  if (isMountPoint(target)) return;
  fs.mkdirSync(target, { recursive: true });
  const result = await run('mount', ['-t', 'proc', 'proc', target], { timeoutMs: 10_000 });
  if (result.code !== 0) throw new InfraError(`mount proc at ${target}: ${result.stderr.trim()}`);
}

/**
 * Bind-mounts a host folder at the same path inside the root filesystem, so every path a node
 * uses (state, logs, pid file) is the same inside and outside of the chroot.
 */
export async function bindSamePath(root: string, folder: string): Promise<void> {
  const target = path.join(root, folder);
  if (isMountPoint(target)) return;
  fs.mkdirSync(target, { recursive: true });
  const result = await run('mount', ['--bind', folder, target], { timeoutMs: 10_000 });
  if (result.code !== 0)
    throw new InfraError(`bind-mount ${folder} at ${target}: ${result.stderr.trim()}`);
}

export async function unbindSamePath(root: string, folder: string): Promise<void> {
  const target = path.join(root, folder);
  for (const point of mountsUnder(target))
    await run('umount', ['-l', point], { timeoutMs: 10_000 });
}

/** Pids of processes whose root directory is `root` (i.e. that run chrooted into it). */
export function processesRootedIn(root: string): number[] {
  const wanted = path.resolve(root);
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/root`) === wanted;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Unmounts /proc of the root filesystem once no process (of any checkout) runs inside it. */
export async function releaseProcWhenUnused(root: string): Promise<void> {
  if (processesRootedIn(root).length > 0) return;
  const target = path.join(root, 'proc');
  if (isMountPoint(target)) await run('umount', ['-l', target], { timeoutMs: 10_000 });
}
