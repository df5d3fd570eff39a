/**
 * A private containerd for trying images without a kubelet: config, root, state, socket and
 * runc's root in the project's state folder. The node's containerd is another one (the kubelet's);
 * this one only checks that the images load and run (`ctr run`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureInstalled } from '../infra/install';
import {
  InfraError,
  isProcessOf,
  readPid,
  run,
  type RunResult,
  spawnDetached,
  tail,
  terminate,
  waitUntil,
} from '../infra/process';
import { recordMissingHostPaths, removeRecordedHostPaths, unmountUnder } from './host-paths';
import { imagesStateDir } from './paths';
import { type Log } from './steps';

/** containerd's shims put their sockets here whatever the config says. */
const HOST_PATHS = ['/run/containerd'];

/** Containers get cgroups below this parent (one per controller), removed on stop. */
const CGROUP_PARENT = 'warren-images';

export interface RunInContainer {
  image: string;
  /** A name for the container (unique while it exists). */
  id: string;
  command?: string[];
  env?: Record<string, string>;
  /** Read-only bind mounts: host path -> container path. */
  mounts?: Record<string, string>;
  /** Runs in the background, its output appended to `logFile`; stop it with `stopContainer(id)`. */
  detach?: { logFile: string };
  timeoutMs?: number;
}

export class TestContainerd {
  private constructor(readonly dir: string) {}

  get socket(): string {
    return path.join(this.dir, 'containerd.sock');
  }

  private static pidFile(dir: string) {
    return path.join(dir, 'containerd.pid');
  }

  static async start(
    log: Log,
    dir = path.join(imagesStateDir(), 'containerd'),
  ): Promise<TestContainerd> {
    const pid = readPid(TestContainerd.pidFile(dir));
    if (pid !== undefined && isProcessOf(pid, 'containerd')) return new TestContainerd(dir);
    await ensureInstalled('/usr/bin/containerd', 'containerd', log);
    fs.mkdirSync(dir, { recursive: true });
    const config = path.join(dir, 'config.toml');
    fs.writeFileSync(
      config,
      [
        'version = 2',
        `root = "${dir}/root"`,
        `state = "${dir}/state"`,
        // ctr needs no CRI; the node's containerd has it (with the same restrict_oom_score_adj:
        // processes here lack CAP_SYS_RESOURCE, runc fails writing oom_score_adj without it).
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${dir}/containerd.sock"`,
        '[ttrpc]',
        `  address = "${dir}/containerd.sock.ttrpc"`,
        '[plugins."io.containerd.grpc.v1.cri"]',
        '  restrict_oom_score_adj = true',
        '',
      ].join('\n'),
    );
    recordMissingHostPaths(path.join(dir, 'host-paths-created.json'), HOST_PATHS);
    const daemonPid = spawnDetached(
      'containerd',
      ['--config', config],
      path.join(dir, 'containerd.log'),
    );
    fs.writeFileSync(TestContainerd.pidFile(dir), String(daemonPid));
    const daemon = new TestContainerd(dir);
    const up = await waitUntil(async () => (await daemon.ctr(['version'])).code === 0, 30_000);
    if (!up) {
      await TestContainerd.stopAt(dir);
      throw new InfraError(
        `containerd did not answer within 30 s:\n${tail(path.join(dir, 'containerd.log'))}`,
      );
    }
    return daemon;
  }

  ctr(args: string[], timeoutMs = 120_000): Promise<RunResult> {
    return run('ctr', ['--address', this.socket, '--namespace', 'k8s.io', ...args], { timeoutMs });
  }

  /** `ctr run` with host networking and a read-only root filesystem (a tmpfs at /tmp). */
  async runContainer(spec: RunInContainer): Promise<RunResult> {
    const args = [
      'run',
      ...(spec.detach ? ['--detach', `--log-uri=file://${spec.detach.logFile}`] : ['--rm']),
      '--net-host',
      '--read-only',
      `--runc-root=${path.join(this.dir, 'runc')}`,
      `--cgroup=/${CGROUP_PARENT}/${spec.id}`,
      '--mount=type=tmpfs,src=tmpfs,dst=/tmp,options=rw:nosuid:nodev',
      ...Object.entries(spec.env ?? {}).map(([name, value]) => `--env=${name}=${value}`),
      ...Object.entries(spec.mounts ?? {}).map(
        ([source, target]) => `--mount=type=bind,src=${source},dst=${target},options=rbind:ro`,
      ),
      spec.image,
      spec.id,
      ...(spec.command ?? []),
    ];
    return this.ctr(args, spec.timeoutMs);
  }

  /** SIGTERM, then SIGKILL after the grace period, then removes task and container. */
  async stopContainer(id: string, graceMs = 10_000): Promise<void> {
    await this.ctr(['task', 'kill', '--signal', 'SIGTERM', id]);
    const stopped = await waitUntil(async () => {
      const { stdout } = await this.ctr(['task', 'list']);
      return !stdout.split('\n').some((line) => line.startsWith(`${id} `) && /RUNNING/.test(line));
    }, graceMs);
    if (!stopped) await this.ctr(['task', 'kill', '--signal', 'SIGKILL', id]);
    await this.ctr(['task', 'delete', '--force', id]);
    await this.ctr(['container', 'delete', id]);
  }

  async stop(): Promise<void> {
    await TestContainerd.stopAt(this.dir);
  }

  /** Stops the daemon (containers first) and removes its mounts, cgroups and host paths. */
  static async stopAt(dir = path.join(imagesStateDir(), 'containerd')): Promise<void> {
    const pid = readPid(TestContainerd.pidFile(dir));
    if (pid !== undefined && isProcessOf(pid, 'containerd')) {
      const daemon = new TestContainerd(dir);
      const { stdout } = await daemon.ctr(['container', 'list', '--quiet']);
      for (const id of stdout.split('\n').filter(Boolean)) await daemon.stopContainer(id, 5000);
      await terminate(pid, 10_000);
    }
    await unmountUnder(dir);
    for (const controller of fs.existsSync('/sys/fs/cgroup')
      ? fs.readdirSync('/sys/fs/cgroup')
      : []) {
      try {
        fs.rmdirSync(path.join('/sys/fs/cgroup', controller, CGROUP_PARENT)); // empty once its containers are gone
      } catch {
        // not made under this controller
      }
    }
    fs.rmSync(path.join(dir, 'state'), { recursive: true, force: true });
    fs.rmSync(path.join(dir, 'runc'), { recursive: true, force: true });
    fs.rmSync(TestContainerd.pidFile(dir), { force: true });
    for (const socket of ['containerd.sock', 'containerd.sock.ttrpc'])
      fs.rmSync(path.join(dir, socket), { force: true });
    await removeRecordedHostPaths(path.join(dir, 'host-paths-created.json'), 'containerd');
  }
}
