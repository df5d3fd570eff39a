/**
 * A test cluster with one real node: the control plane (control-plane.ts) plus
 * kube-controller-manager and kube-scheduler on the host's loopback, and containerd + runc,
 * the kubelet and kube-proxy (iptables) with bridge CNI inside the node's private namespaces
 * (node-namespace.ts). Pods reach the API server through the `kubernetes` Service and the host's
 * loopback servers (RabbitMQ, PostgreSQL) at NODE_NETWORK.hostIp.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ensureInstalled } from '../infra/install';
import { ensureKubeBinaries, type KubeBinaries, type NodeBinaries } from './build';
import { cleanStaleRuns, ControlPlane, newRunDir } from './control-plane';
import {
  containerdConfig,
  cniConfig,
  kubeletConfig,
  kubeProxyConfig,
  NODE_NETWORK,
  nodePaths,
} from './node-config';
import { pauseImage, type ImageArchive } from './node-images';
import { ours, readNodeState, writeNodeState, type NodeState } from './node-state';
import {
  addHostForward,
  cgroupName,
  createCgroupRoot,
  holderCommand,
  holderPid,
  inNode,
  inNodeNetwork,
  pidNamespaceOf,
  removeStaleCgroups,
  slirpCommand,
  writeSysctlFiles,
} from './node-namespace';
import {
  freePorts,
  groupAlive,
  killGroupsNow,
  KubeError,
  seconds,
  spawnServer,
  tail,
  waitUntil,
} from './proc';

const execFileAsync = promisify(execFile);

export interface NodeClusterOptions {
  /** Default: a fresh run folder. Emptied first. */
  stateDir?: string;
  /** Keep running after this process exits (`npm run kube -- up --node`). */
  detached?: boolean;
  /** Images to load into the node's containerd before the kubelet starts. */
  images?: ImageArchive[];
  log?: (line: string) => void;
}

const defaultLog = (line: string) => process.stderr.write(`[warren kube] ${line}\n`);

/** Debian packages of the node: binary -> package. */
const PACKAGES: [string, string][] = [
  ['/usr/bin/containerd', 'containerd'],
  ['/usr/sbin/runc', 'runc'],
  ['/usr/lib/cni/bridge', 'containernetworking-plugins'],
  ['/usr/bin/slirp4netns', 'slirp4netns'],
  ['/usr/sbin/iptables', 'iptables'],
  ['/usr/sbin/conntrack', 'conntrack'],
  ['/bin/busybox', 'busybox-static'],
];
export const CNI_BIN_DIR = '/usr/lib/cni';

export class NodeCluster {
  private constructor(
    readonly plane: ControlPlane,
    private readonly state: NodeState,
  ) {}

  /** Milliseconds from start until the node was Ready and untainted; 0 when opened. */
  startupMs = 0;

  get nodeName(): string {
    return NODE_NETWORK.nodeName;
  }

  get stateDir(): string {
    return this.plane.stateDir;
  }

  get kubeconfigPath(): string {
    return this.plane.kubeconfigPath;
  }

  get env(): NodeJS.ProcessEnv {
    return this.plane.env;
  }

  /** The node's containerd: `ctr --address <this> -n k8s.io ...` from the host. */
  get containerdSocket(): string {
    return nodePaths(this.stateDir).containerdSocket;
  }

  /** Where pods reach the host's 127.0.0.1 (RabbitMQ, PostgreSQL of the test run). */
  get hostAddress(): string {
    return NODE_NETWORK.hostIp;
  }

  static async start(options: NodeClusterOptions = {}): Promise<NodeCluster> {
    const log = options.log ?? defaultLog;
    for (const [binary, debianPackage] of PACKAGES)
      await ensureInstalled(binary, debianPackage, log);
    // kubectl too: people and the kubectl image (kubectlImage) use it.
    const binaries = await ensureKubeBinaries({ node: true, kubectl: true, log });
    const pause = pauseImage();
    if (!options.stateDir) cleanStaleRuns(); // run folders (and nodes) of killed test processes
    const stateDir = path.resolve(options.stateDir ?? newRunDir('node'));
    refuseHiddenStateDir(stateDir);
    await removeStaleCgroups();
    const started = Date.now();
    const plane = await ControlPlane.start({
      stateDir,
      detached: options.detached,
      binaries,
      log,
      forNode: { advertiseAddress: NODE_NETWORK.hostIp },
    });
    try {
      const cluster = await NodeCluster.startNode(plane, binaries, options, [
        pause,
        ...(options.images ?? []),
      ]);
      cluster.startupMs = Date.now() - started;
      log(
        `node ${NODE_NETWORK.nodeName} Ready in ${seconds(cluster.startupMs)} (control plane included)`,
      );
      return cluster;
    } catch (error) {
      await plane.stop(); // stops the node too (stopNodeAt)
      throw error;
    }
  }

  private static async startNode(
    plane: ControlPlane,
    kube: KubeBinaries,
    options: NodeClusterOptions,
    images: ImageArchive[],
  ): Promise<NodeCluster> {
    const log = options.log ?? defaultLog;
    const binaries = kube.node as NodeBinaries;
    const paths = nodePaths(plane.stateDir);
    fs.mkdirSync(paths.cniConfDir, { recursive: true });
    writeSysctlFiles(paths.dir);
    const id = `${process.pid}-${createHash('sha256').update(plane.stateDir).digest('hex').slice(0, 8)}`;
    const [kubeletPort] = await freePorts(1);
    const state: NodeState = {
      pgids: [],
      holderPid: 0,
      pidNamespace: '',
      cgroup: cgroupName(id),
      slirpSocket: path.join(paths.dir, 'slirp.sock'),
      kubeletPort,
      forwards: {},
      binaries,
    };
    const cluster = new NodeCluster(plane, state);
    const exited: string[] = [];
    const launch = (name: string, [command, args]: [string, string[]]) => {
      state.pgids.push(
        spawnServer(
          path.join(paths.dir, `${name}.log`),
          command,
          args,
          Boolean(options.detached),
          () => exited.push(name),
        ),
      );
      cluster.saveState();
    };
    const waitFor = async (what: string, check: () => Promise<boolean> | boolean, ms = 60_000) => {
      const ok = await waitUntil(async () => exited.length > 0 || (await check()), ms, 100);
      if (!ok || exited.length > 0) {
        const why =
          exited.length > 0 ? `${exited.join(', ')} exited` : `no ${what} after ${ms / 1000} s`;
        throw new KubeError(`node failed: ${why}\n${cluster.logTails()}`);
      }
    };
    if (!options.detached) process.once('exit', cluster.killOnExit);

    cluster.saveState(); // the cgroup is recorded before it exists
    const holderProcs = createCgroupRoot(state.cgroup);
    const [unshare, ...unshareArgs] = holderCommand(paths.dir, holderProcs);
    launch('namespace', [unshare, unshareArgs]);
    await waitFor(
      'node namespace',
      () => fs.existsSync(path.join(paths.dir, 'namespace-ready')),
      20_000,
    );
    state.holderPid = holderPid(holderProcs) ?? 0;
    if (state.holderPid === 0)
      throw new KubeError(`the node's namespace holder is not in ${holderProcs}`);
    state.pidNamespace = pidNamespaceOf(state.holderPid);
    cluster.saveState();

    const [slirp, ...slirpArgs] = slirpCommand(state.holderPid, state.slirpSocket);
    launch('slirp4netns', [slirp, slirpArgs]);
    await waitFor('slirp4netns', () => fs.existsSync(state.slirpSocket), 20_000);
    await addHostForward(state.slirpSocket, kubeletPort, kubeletPort);

    // containerd, then the images, then the kubelet (it wants the pause image at once).
    fs.writeFileSync(paths.containerdConfig, containerdConfig(paths, CNI_BIN_DIR));
    fs.writeFileSync(path.join(paths.cniConfDir, '10-warren.conflist'), cniConfig());
    launch(
      'containerd',
      inNode(state.holderPid, 'containerd', ['--config', paths.containerdConfig]),
    );
    await waitFor('containerd socket', () => cluster.containerdReady(), 30_000);
    for (const image of images) await cluster.importImage(image.archive);

    const pki = path.join(plane.stateDir, 'pki');
    const inNodeServer = plane.server.replace('127.0.0.1', NODE_NETWORK.hostIp);
    const masters = ['system:masters'];
    const [kubelet, proxy, kcm, scheduler] = await Promise.all([
      plane.mintIdentity(
        `system:node:${NODE_NETWORK.nodeName}`,
        ['system:nodes', ...masters],
        inNodeServer,
      ),
      plane.mintIdentity('system:kube-proxy', masters, inNodeServer),
      plane.mintIdentity('system:kube-controller-manager', masters),
      plane.mintIdentity('system:kube-scheduler', masters),
    ]);
    fs.writeFileSync(
      paths.kubeletConfig,
      kubeletConfig({
        port: kubeletPort,
        caFile: path.join(pki, 'ca.crt'),
        cgroupRoot: `/${state.cgroup}`,
        containerdSocket: paths.containerdSocket,
      }),
    );
    fs.writeFileSync(paths.kubeProxyConfig, kubeProxyConfig(proxy.kubeconfigPath));
    launch('kube-controller-manager', [
      binaries.kubeControllerManager,
      controllerManagerArgs(kcm.kubeconfigPath, pki),
    ]);
    launch('kube-scheduler', [
      binaries.kubeScheduler,
      [`--kubeconfig=${scheduler.kubeconfigPath}`, '--leader-elect=false', '--secure-port=0'],
    ]);
    launch(
      'kubelet',
      inNode(state.holderPid, binaries.kubelet, [
        `--config=${paths.kubeletConfig}`,
        `--kubeconfig=${kubelet.kubeconfigPath}`,
        `--hostname-override=${NODE_NETWORK.nodeName}`,
        `--node-ip=${NODE_NETWORK.nodeIp}`,
      ]),
    );
    launch(
      'kube-proxy',
      inNode(state.holderPid, binaries.kubeProxy, [`--config=${paths.kubeProxyConfig}`]),
    );
    await waitFor('Ready node without taints', () => cluster.nodeReady(), 120_000);
    await waitFor(
      'default ServiceAccount',
      async () =>
        (await cluster.apiGet('/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
      60_000,
    );
    log(
      `node: containerd ${paths.containerdSocket}, kubelet port ${kubeletPort}, logs ${paths.dir}/*.log`,
    );
    return cluster;
  }

  /** The node cluster whose state is in `stateDir`, if all of it still runs. */
  static open(stateDir: string): NodeCluster | undefined {
    const plane = ControlPlane.open(stateDir);
    const state = readNodeState(stateDir);
    if (!plane || !state) return undefined;
    if (ours(state, stateDir).filter(groupAlive).length < state.pgids.length) return undefined;
    return new NodeCluster(plane, state);
  }

  /** Stops the node and the control plane and deletes the state folder. */
  async stop(): Promise<void> {
    process.removeListener('exit', this.killOnExit);
    await this.plane.stop();
  }

  /** Loads an image archive (OCI or docker save) into the node's containerd for the kubelet. */
  async importImage(archive: string): Promise<void> {
    try {
      await execFileAsync(
        'ctr',
        ['--address', this.containerdSocket, '--namespace', 'k8s.io', 'images', 'import', archive],
        {
          maxBuffer: 16 << 20,
        },
      );
    } catch (error) {
      throw new KubeError(
        `importing ${archive} into the node failed: ${(error as { stderr?: string }).stderr ?? error}`,
      );
    }
  }

  /**
   * Makes the node's `nodePort` (a Service's NodePort, or a hostNetwork pod's port) reachable
   * at 127.0.0.1:<returned port> on the host.
   */
  async forward(nodePort: number): Promise<number> {
    const known = Object.entries(this.state.forwards).find(([, port]) => port === nodePort);
    if (known) return Number(known[0]);
    const [hostPort] = await freePorts(1);
    await addHostForward(this.state.slirpSocket, hostPort, nodePort);
    this.state.forwards[hostPort] = nodePort;
    this.saveState();
    return hostPort;
  }

  /**
   * An HTTP request sent from inside the node's network namespace, where Service ClusterIPs
   * (kube-proxy's rules) and pod IPs are reachable: this Node.js, joined to the node's network
   * only (the host's files stay visible). Resolves the status and the body's text.
   */
  async fetchInNode(url: string, init: NodeFetchInit = {}): Promise<NodeFetchResponse> {
    const [command, args] = inNodeNetwork(this.state.holderPid, process.execPath, [
      '-e',
      FETCH_SCRIPT,
      JSON.stringify({ url, init }),
    ]);
    try {
      const { stdout } = await execFileAsync(command, args, {
        timeout: init.timeoutMs ?? 15_000,
        maxBuffer: 16 << 20,
      });
      return JSON.parse(stdout) as NodeFetchResponse;
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim();
      throw new KubeError(
        `${init.method ?? 'GET'} ${url} from the node failed: ${stderr || error}`,
      );
    }
  }

  /** GET from the API server as admin; resolves status and parsed body. */
  async apiGet(urlPath: string): Promise<{ status: number; body: unknown }> {
    const pki = path.join(this.stateDir, 'pki');
    return new Promise((resolve) => {
      const request = https.get(
        `${this.plane.server}${urlPath}`,
        {
          ca: fs.readFileSync(path.join(pki, 'ca.crt')),
          cert: fs.readFileSync(path.join(pki, 'user-warren-admin.crt')),
          key: fs.readFileSync(path.join(pki, 'user-warren-admin.key')),
          timeout: 5000,
        },
        (response) => {
          let data = '';
          response.on('data', (chunk) => (data += String(chunk)));
          response.on('end', () => {
            let body: unknown = data;
            try {
              body = JSON.parse(data);
            } catch {
              // not JSON
            }
            resolve({ status: response.statusCode ?? 0, body });
          });
        },
      );
      request.once('timeout', () => request.destroy(new Error('timeout')));
      request.once('error', () => resolve({ status: 0, body: undefined }));
    });
  }

  private async nodeReady(): Promise<boolean> {
    const { status, body } = await this.apiGet(`/api/v1/nodes/${NODE_NETWORK.nodeName}`);
    if (status !== 200) return false;
    const node = body as {
      spec?: { taints?: unknown[] };
      status?: { conditions?: { type: string; status: string }[] };
    };
    const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    return Boolean(ready) && (node.spec?.taints ?? []).length === 0;
  }

  private async containerdReady(): Promise<boolean> {
    if (!fs.existsSync(this.containerdSocket)) return false;
    try {
      await execFileAsync('ctr', ['--address', this.containerdSocket, 'version']);
      return true;
    } catch {
      return false;
    }
  }

  private saveState(): void {
    writeNodeState(this.stateDir, this.state);
  }

  private logTails(): string {
    const dir = nodePaths(this.stateDir).dir;
    return fs
      .readdirSync(dir)
      .filter((file) => file.endsWith('.log'))
      .map((file) => `--- ${file} ---\n${tail(path.join(dir, file))}`)
      .join('\n');
  }

  private readonly killOnExit = () => killGroupsNow(ours(this.state, this.stateDir));
}

export interface NodeFetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

export interface NodeFetchResponse {
  status: number;
  body: string;
}

/** Run by `fetchInNode` in the node's network: argv[1] is {url, init}; prints {status, body}. */
const FETCH_SCRIPT = `const { url, init } = JSON.parse(process.argv[1]);
fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 15000) })
  .then(async (response) => process.stdout.write(JSON.stringify({ status: response.status, body: await response.text() })))
  .catch((error) => { process.stderr.write(String(error.cause ?? error)); process.exit(1); });`;

export const startNodeCluster = (options?: NodeClusterOptions) => NodeCluster.start(options);

/** The node's mount namespace covers /run, /var/lib and /var/log: its state cannot live there. */
function refuseHiddenStateDir(stateDir: string): void {
  for (const covered of ['/run', '/var/run', '/var/lib', '/var/log']) {
    if (stateDir === covered || stateDir.startsWith(`${covered}/`)) {
      throw new KubeError(
        `the node's state folder cannot be under ${covered} (set WARREN_STATE_DIR elsewhere): ${stateDir}`,
      );
    }
  }
}

function controllerManagerArgs(kubeconfig: string, pki: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    '--controllers=*',
    '--leader-elect=false',
    '--secure-port=0',
    `--service-account-private-key-file=${path.join(pki, 'sa.key')}`,
    `--root-ca-file=${path.join(pki, 'ca.crt')}`,
    `--cluster-signing-cert-file=${path.join(pki, 'ca.crt')}`,
    `--cluster-signing-key-file=${path.join(pki, 'ca.key')}`,
    // Fast enough for tests: a lost node is noticed in 20 s, not 40.
    '--node-monitor-grace-period=20s',
  ];
}
