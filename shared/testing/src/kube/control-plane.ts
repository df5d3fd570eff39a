import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { ensureKubeBinaries, type KubeBinaries } from './build';
import { clientCert, createCa, servingCert, serviceAccountKey, type CertFiles } from './certs';
import { installCrds } from './crds';
import { writeKubeconfig } from './kubeconfig';
import { killNodeNow, stopNodeAt } from './node-state';
import { stateRoot } from './paths';
import {
  freePorts,
  groupAlive,
  isAlive,
  isGroupOf,
  killGroupsNow,
  KubeError,
  seconds,
  killGroups,
  spawnServer,
  tail,
  waitUntil,
} from './proc';

export interface ControlPlaneOptions {
  /** Folder for certificates, etcd data, logs and kubeconfigs; emptied first. Default: a fresh run folder. */
  stateDir?: string;
  /** Keep running after this process exits (`npm run kube -- up`); default: die with it. */
  detached?: boolean;
  binaries?: KubeBinaries;
  log?: (line: string) => void;
  /** For a cluster with a kubelet node (node.ts): where the node and its pods reach this API server. */
  forNode?: { advertiseAddress: string };
}

/** The Service range; its first address is the `kubernetes` Service's ClusterIP. */
export const SERVICE_CIDR = '10.0.0.0/24';
export const KUBERNETES_SERVICE_IP = '10.0.0.1';

/** A limited user: the kubeconfig authenticates as `user` in `groups`, and RBAC decides the rest. */
export interface KubeIdentity {
  user: string;
  groups: string[];
  kubeconfigPath: string;
}

/** What a running control plane leaves on disk, so another process can find or stop it. */
interface StateFile {
  server: string;
  kubeconfigPath: string;
  kubernetesVersion: string;
  binaries: KubeBinaries;
  /** One process group per server (etcd, kube-apiserver). */
  pgids: number[];
}

const STATE = 'state.json';
const ADMIN = 'warren-admin';
const defaultLog = (line: string) => process.stderr.write(`[warren kube] ${line}\n`);

export class ControlPlane {
  private constructor(
    readonly stateDir: string,
    private readonly state: StateFile,
  ) {}

  /** Milliseconds from start to /readyz; 0 when opened from another process. */
  startupMs = 0;

  get server(): string {
    return this.state.server;
  }

  /** Admin kubeconfig (user warren-admin in system:masters). */
  get kubeconfigPath(): string {
    return this.state.kubeconfigPath;
  }

  get kubernetesVersion(): string {
    return this.state.kubernetesVersion;
  }

  /** The binaries it runs, and helm (and kubectl when built) of the same pins. */
  get binaries(): KubeBinaries {
    return this.state.binaries;
  }

  /** Environment for child processes (kubectl, helm, the operator): admin kubeconfig, Helm state kept here. */
  get env(): NodeJS.ProcessEnv {
    const helm = path.join(this.stateDir, 'helm');
    return {
      ...process.env,
      KUBECONFIG: this.kubeconfigPath,
      HELM_CACHE_HOME: path.join(helm, 'cache'),
      HELM_CONFIG_HOME: path.join(helm, 'config'),
      HELM_DATA_HOME: path.join(helm, 'data'),
    };
  }

  /** Starts etcd and kube-apiserver on free loopback ports and waits for /readyz. */
  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    // A port found free can be taken before the server binds it: try again with new ports.
    for (let attempt = 1; ; attempt++) {
      try {
        return await ControlPlane.startOnce(options);
      } catch (error) {
        if (attempt === 3 || !/address already in use/.test(String(error))) throw error;
      }
    }
  }

  private static async startOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
    const log = options.log ?? defaultLog;
    const binaries = options.binaries ?? (await ensureKubeBinaries({ log }));
    if (!options.stateDir) cleanStaleRuns();
    const stateDir = path.resolve(options.stateDir ?? newRunDir());
    await ControlPlane.stopAt(stateDir); // whatever an earlier run left there
    const started = Date.now();
    const pki = path.join(stateDir, 'pki');
    // Only pki private: a recursive mkdir with a mode would give it to .warren/ too (PostgreSQL,
    // running as its own user, needs to traverse it).
    fs.mkdirSync(stateDir, { recursive: true });
    fs.mkdirSync(pki, { mode: 0o700 });

    const [etcdClient, etcdPeer, apiPort] = await freePorts(3);
    const server = `https://127.0.0.1:${apiPort}`;
    const ca = await createCa(pki);
    const advertised = options.forNode?.advertiseAddress;
    const sans = advertised
      ? [
          `IP:${advertised}`,
          `IP:${KUBERNETES_SERVICE_IP}`,
          ...KUBERNETES_SERVICE_NAMES.map((n) => `DNS:${n}`),
        ]
      : [];
    const [serving, admin, kubeletClient] = await Promise.all([
      servingCert(ca, pki, sans),
      clientCert(ca, pki, ADMIN, ['system:masters']),
      // logs, exec and port-forward: the kubelet asks the API server whether this user may.
      advertised
        ? clientCert(ca, pki, 'kube-apiserver-kubelet-client', ['system:masters'])
        : undefined,
    ]);
    const sa = serviceAccountKey(pki);
    const state: StateFile = {
      server,
      kubeconfigPath: writeKubeconfig(
        path.join(stateDir, 'kubeconfig'),
        server,
        ca.cert,
        ADMIN,
        admin,
      ),
      kubernetesVersion: binaries.kubernetesVersion,
      binaries,
      pgids: [],
    };
    const plane = new ControlPlane(stateDir, state);
    const exited: string[] = [];
    const launch = (name: string, command: string, args: string[]) => {
      const pgid = spawnServer(
        path.join(stateDir, `${name}.log`),
        command,
        args,
        Boolean(options.detached),
        () => exited.push(name),
      );
      state.pgids.push(pgid);
      plane.saveState(); // before waiting, so a crash now still leaves the pids for cleanup
    };
    if (!options.detached) process.once('exit', plane.killOnExit);

    try {
      const etcdUrl = `http://127.0.0.1:${etcdClient}`;
      launch('etcd', binaries.etcd, [
        `--data-dir=${path.join(stateDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync', // throwaway data: durability costs seconds for nothing
        '--log-level=warn',
      ]);
      // kube-apiserver retries etcd on its own, so both start at once.
      launch('kube-apiserver', binaries.kubeApiserver, [
        ...apiserverArgs({ stateDir, apiPort, etcdUrl, ca, serving, sa, server }),
        ...(advertised && kubeletClient
          ? nodeApiserverArgs(advertised, kubeletClient)
          : standaloneApiserverArgs),
      ]);

      const ready = await waitUntil(async () => {
        if (exited.length > 0) return true;
        return (await plane.get('/readyz', admin)) === 200;
      }, 90_000);
      if (!ready || exited.length > 0) {
        const why = exited.length > 0 ? `${exited.join(' and ')} exited` : 'not ready after 90 s';
        throw new KubeError(`control plane failed: ${why}\n${plane.logTails()}`);
      }
    } catch (error) {
      await plane.stop();
      throw error;
    }
    plane.startupMs = Date.now() - started;
    log(
      `control plane ${binaries.kubernetesVersion} ready in ${seconds(plane.startupMs)} at ${server} (kubeconfig: ${state.kubeconfigPath})`,
    );
    return plane;
  }

  /** The control plane whose state is in `stateDir`, if it still runs. */
  static open(stateDir: string): ControlPlane | undefined {
    const state = readState(stateDir);
    const alive = state ? ours(state, stateDir).filter(groupAlive) : [];
    if (!state || alive.length === 0 || alive.length < state.pgids.length) return undefined;
    return new ControlPlane(stateDir, state);
  }

  /** Stops whatever control plane left its state in `stateDir` and deletes the folder. */
  static async stopAt(stateDir: string): Promise<void> {
    const state = readState(stateDir);
    // The node first: the folder holds its containerd's root until its mounts are gone.
    await stopNodeAt(stateDir);
    if (state) await killGroups(ours(state, stateDir));
    fs.rmSync(stateDir, { recursive: true, force: true });
  }

  async stop(): Promise<void> {
    process.removeListener('exit', this.killOnExit);
    await ControlPlane.stopAt(this.stateDir);
  }

  /**
   * A kubeconfig for `user` in `groups`; it can do only what RBAC grants them. `server`: another
   * address of this API server (a node's processes reach it through their network namespace).
   */
  async mintIdentity(
    user: string,
    groups: string[] = [],
    server = this.server,
  ): Promise<KubeIdentity> {
    const pki = path.join(this.stateDir, 'pki');
    const ca: CertFiles = { cert: path.join(pki, 'ca.crt'), key: path.join(pki, 'ca.key') };
    const cert = await clientCert(ca, pki, user, groups);
    const name = `kubeconfig-${path.basename(cert.cert, '.crt')}`;
    const kubeconfigPath = writeKubeconfig(
      path.join(this.stateDir, name),
      server,
      ca.cert,
      user,
      cert,
    );
    return { user, groups, kubeconfigPath };
  }

  /**
   * A kubeconfig that authenticates as a ServiceAccount (user and groups as its tokens carry),
   * so a process runs under exactly the RBAC a chart grants that account.
   */
  mintServiceAccount(namespace: string, name: string): Promise<KubeIdentity> {
    return this.mintIdentity(`system:serviceaccount:${namespace}:${name}`, [
      'system:serviceaccounts',
      `system:serviceaccounts:${namespace}`,
    ]);
  }

  /** Applies every YAML file of `dir` (default: the repository's crds/) and waits until each CRD is established. */
  installCrds(dir?: string): Promise<string[]> {
    return installCrds(this.kubeconfigPath, dir);
  }

  /** GET `urlPath` as the given client; resolves the HTTP status. */
  private get(urlPath: string, client: CertFiles): Promise<number> {
    const pki = path.join(this.stateDir, 'pki');
    return new Promise((resolve, reject) => {
      const request = https.get(
        `${this.server}${urlPath}`,
        {
          ca: fs.readFileSync(path.join(pki, 'ca.crt')),
          cert: fs.readFileSync(client.cert),
          key: fs.readFileSync(client.key),
          timeout: 2000,
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.once('timeout', () => request.destroy(new Error('timeout')));
      request.once('error', reject);
    });
  }

  private saveState(): void {
    fs.writeFileSync(path.join(this.stateDir, STATE), JSON.stringify(this.state, null, 2));
  }

  private logTails(): string {
    return ['etcd', 'kube-apiserver']
      .map((name) => `--- ${name}.log ---\n${tail(path.join(this.stateDir, `${name}.log`))}`)
      .join('\n');
  }

  /** 'exit' handlers cannot wait: kill at once (the watchdog would too, a moment later). */
  private readonly killOnExit = () => killGroupsNow(ours(this.state, this.stateDir));
}

export const startControlPlane = (options?: ControlPlaneOptions) => ControlPlane.start(options);

const KUBERNETES_SERVICE_NAMES = [
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
  'kubernetes.default.svc.cluster.local',
];

/**
 * With a node, the `kubernetes` Service points at `advertised` (pods reach the API server there),
 * ServiceAccount admission mounts tokens (the controller-manager creates the accounts), and the
 * API server reaches the kubelet by its node name (a forwarded loopback port).
 */
function nodeApiserverArgs(advertised: string, kubeletClient: CertFiles): string[] {
  return [
    `--advertise-address=${advertised}`,
    '--endpoint-reconciler-type=lease',
    `--kubelet-client-certificate=${kubeletClient.cert}`,
    `--kubelet-client-key=${kubeletClient.key}`,
    '--kubelet-preferred-address-types=Hostname,InternalIP',
  ];
}

function apiserverArgs(o: {
  stateDir: string;
  apiPort: number;
  etcdUrl: string;
  ca: CertFiles;
  serving: CertFiles;
  sa: CertFiles;
  server: string;
}): string[] {
  return [
    '--bind-address=127.0.0.1',
    `--secure-port=${o.apiPort}`,
    `--etcd-servers=${o.etcdUrl}`,
    `--cert-dir=${path.join(o.stateDir, 'pki')}`,
    `--tls-cert-file=${o.serving.cert}`,
    `--tls-private-key-file=${o.serving.key}`,
    `--client-ca-file=${o.ca.cert}`,
    `--service-account-issuer=${o.server}`,
    `--service-account-key-file=${o.sa.cert}`,
    `--service-account-signing-key-file=${o.sa.key}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--authorization-mode=RBAC',
    '--allow-privileged=true',
  ];
}

/** Without a node. */
const standaloneApiserverArgs = [
  // Loopback only, and no lookup of a default route or the host name: works with no network.
  '--advertise-address=127.0.0.1',
  '--endpoint-reconciler-type=none',
  // As envtest: no controller creates the default ServiceAccount, so its admission would refuse pods.
  '--disable-admission-plugins=ServiceAccount',
];

function runsDir(): string {
  return path.join(stateRoot(), 'kube-runs');
}

function readState(stateDir: string): StateFile | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, STATE), 'utf8')) as StateFile;
  } catch {
    return undefined;
  }
}

/** Only groups whose leader still runs with this state folder in its command line: pids get recycled. */
function ours(state: StateFile, stateDir: string): number[] {
  return state.pgids.filter((pgid) => isGroupOf(pgid, stateDir));
}

/**
 * A fresh folder for state owned by this process, named `<pid>-<label>` so that a later run can
 * tell it is stale once this process is gone (see cleanStaleRuns).
 */
export function newRunDir(label = Date.now().toString(36)): string {
  return path.join(runsDir(), `${process.pid}-${label}`);
}

/**
 * Removes run folders whose owner is gone (killed before it could clean up), with their servers:
 * the control plane in the folder, or one a test started there through the CLI (`<dir>/kube`).
 */
export function cleanStaleRuns(): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(runsDir());
  } catch {
    return;
  }
  for (const entry of entries) {
    const owner = Number(entry.split('-')[0]);
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
    const dir = path.join(runsDir(), entry);
    for (const stateDir of [dir, path.join(dir, 'kube')]) {
      const state = readState(stateDir);
      if (state) killGroupsNow(ours(state, stateDir));
      killNodeNow(stateDir);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
