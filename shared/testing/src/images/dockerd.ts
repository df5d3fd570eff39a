/**
 * A private Docker daemon for building images: Debian's docker.io, everything it owns in the
 * project's state folder, no network device (--bridge=none), no iptables rule, no sysctl change.
 * Builds run with `--network host`, so they reach the npm registry like the host does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureInstalled } from '../infra/install';
import {
  InfraError,
  isAlive,
  isProcessOf,
  readPid,
  run,
  spawnDetached,
  tail,
  terminate,
  waitUntil,
} from '../infra/process';
import { acquireLock } from '../kube/build';
import { recordMissingHostPaths, removeRecordedHostPaths, unmountUnder } from './host-paths';
import { imagesCacheRoot, imagesStateDir } from './paths';
import { type Log } from './steps';

/** Debian's docker CLI: it matches the daemon (another docker on PATH may be a newer client). */
export const DOCKER_CLI = '/usr/bin/docker';
const DOCKERD = '/usr/sbin/dockerd';

/** Paths dockerd writes no matter its flags; removed on stop when this daemon made them. */
const HOST_PATHS = ['/run/docker', '/etc/docker/key.json'];

export interface DockerdLayout {
  dir: string;
  /**
   * Images and the layer cache: in the cache shared by every checkout (a fresh clone reuses
   * the layers), used by one daemon at a time.
   */
  dataRoot: string;
  /** The pid of the daemon that uses dataRoot (a lock: another checkout's daemon waits). */
  ownerFile: string;
  socket: string;
  pidFile: string;
  logFile: string;
  /** The host paths that did not exist before this daemon started. */
  createdFile: string;
}

export function dockerdLayout(
  stateDir = path.join(imagesStateDir(), 'docker'),
  dataRoot = path.join(imagesCacheRoot(), 'docker-data'),
): DockerdLayout {
  return {
    dir: stateDir,
    dataRoot,
    ownerFile: `${dataRoot}.owner`,
    socket: path.join(stateDir, 'docker.sock'),
    pidFile: path.join(stateDir, 'dockerd.pid'),
    logFile: path.join(stateDir, 'dockerd.log'),
    createdFile: path.join(stateDir, 'host-paths-created.json'),
  };
}

/** The arguments that keep dockerd inside the state folder and off the host's network config. */
export function dockerdArgs(layout: DockerdLayout): string[] {
  return [
    `--data-root=${layout.dataRoot}`,
    `--exec-root=${path.join(layout.dir, 'exec')}`,
    `--pidfile=${layout.pidFile}`,
    `--host=unix://${layout.socket}`,
    `--config-file=${path.join(layout.dir, 'daemon.json')}`,
    '--bridge=none',
    '--iptables=false',
    '--ip6tables=false',
    '--ip-forward=false',
    '--ip-masq=false',
    '--userland-proxy=false',
  ];
}

export class Dockerd {
  private constructor(readonly layout: DockerdLayout) {}

  /** `docker` with this daemon's socket. */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: `unix://${this.layout.socket}`, DOCKER_BUILDKIT: '1' };
  }

  /** The daemon running at the layout's state folder, if one is. */
  static open(layout = dockerdLayout()): Dockerd | undefined {
    const pid = readPid(layout.pidFile);
    return pid !== undefined && isProcessOf(pid, 'dockerd') ? new Dockerd(layout) : undefined;
  }

  /** Starts a daemon, or returns the one already running there. */
  static async start(log: Log, layout = dockerdLayout()): Promise<Dockerd> {
    const running = Dockerd.open(layout);
    if (running) return running;
    await ensureInstalled(DOCKERD, 'docker.io', log);
    fs.mkdirSync(layout.dir, { recursive: true });
    fs.mkdirSync(layout.dataRoot, { recursive: true });
    // Held by this process until the daemon's pid replaces it below: the lock then lives as
    // long as the daemon, also after `npm run images -- build --keep` has exited.
    await acquireLock(layout.ownerFile, log);
    fs.writeFileSync(path.join(layout.dir, 'daemon.json'), '{}\n');
    recordMissingHostPaths(layout.createdFile, HOST_PATHS);
    const daemon = new Dockerd(layout);
    const started = Date.now();
    spawnDetached(DOCKERD, dockerdArgs(layout), layout.logFile);
    const up = await waitUntil(
      async () => (await daemon.docker(['version'])).code === 0,
      60_000,
      250,
    );
    if (!up) {
      await Dockerd.stopAt(layout);
      throw new InfraError(
        `dockerd did not answer within 60 s; end of ${layout.logFile}:\n${tail(layout.logFile)}`,
      );
    }
    const pid = readPid(layout.pidFile);
    if (pid !== undefined) fs.writeFileSync(layout.ownerFile, String(pid));
    log(`dockerd up in ${((Date.now() - started) / 1000).toFixed(1)} s (socket ${layout.socket})`);
    return daemon;
  }

  docker(args: string[], timeoutMs = 120_000) {
    return run(DOCKER_CLI, args, { env: this.env, timeoutMs });
  }

  /**
   * Stops the daemon at the layout (if any) and removes what it left: its exec root, mounts
   * under its folders, and the host paths it created. Images and the layer cache stay in the
   * data root; mounts there are left alone while another checkout's daemon holds it.
   */
  static async stopAt(layout = dockerdLayout()): Promise<void> {
    const pid = readPid(layout.pidFile);
    if (pid !== undefined && isProcessOf(pid, 'dockerd')) await terminate(pid, 20_000);
    await unmountUnder(layout.dir);
    if (ownsDataRoot(layout, pid)) await unmountUnder(layout.dataRoot);
    fs.rmSync(path.join(layout.dir, 'exec'), { recursive: true, force: true });
    fs.rmSync(layout.pidFile, { force: true });
    fs.rmSync(layout.socket, { force: true });
    releaseDataRoot(layout, pid);
    await removeRecordedHostPaths(layout.createdFile, 'dockerd');
  }

  async stop(): Promise<void> {
    await Dockerd.stopAt(this.layout);
  }
}

/** Whether the data root is free or held by this layout's daemon (or this process, before it started one). */
function ownsDataRoot(layout: DockerdLayout, daemonPid: number | undefined): boolean {
  const owner = readPid(layout.ownerFile);
  return owner === undefined || owner === daemonPid || owner === process.pid || !isAlive(owner);
}

function releaseDataRoot(layout: DockerdLayout, daemonPid: number | undefined): void {
  if (ownsDataRoot(layout, daemonPid)) fs.rmSync(layout.ownerFile, { force: true });
}
