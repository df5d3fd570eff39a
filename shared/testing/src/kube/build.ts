import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KEDA_MODULE, KEDA_VERSION } from './keda';
import { toolsCacheRoot, toolsDir } from './paths';
import { isAlive, KubeError, seconds, sleep, tail } from './proc';

export interface KubeBinaries {
  kubeApiserver: string;
  etcd: string;
  helm: string;
  /** Built only on request (`kubectl: true`), or taken from KUBEBUILDER_ASSETS when present. */
  kubectl?: string;
  /** What /version reports, e.g. v1.35.4. */
  kubernetesVersion: string;
  /** Where kube-apiserver and etcd came from. */
  source: 'cache' | 'KUBEBUILDER_ASSETS';
  /** Built only on request (`node: true`): what a cluster with a kubelet node runs besides. */
  node?: NodeBinaries;
  /** Built only on request (`keda: true`): KEDA's operator, run in a node cluster's pods. */
  kedaOperator?: string;
}

export interface NodeBinaries {
  kubelet: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubeProxy: string;
}

export interface EnsureOptions {
  kubectl?: boolean;
  /** Also kubelet, kube-controller-manager, kube-scheduler and kube-proxy (tools/k8s-node). */
  node?: boolean;
  /** Also KEDA's operator (tools/keda). */
  keda?: boolean;
  log?: (line: string) => void;
}

const NODE_NAMES = ['kube-scheduler', 'kube-controller-manager', 'kube-proxy', 'kubelet'] as const;
type NodeName = (typeof NODE_NAMES)[number];
type Name = 'kube-apiserver' | 'etcd' | 'helm' | 'kubectl' | NodeName | 'keda-operator';

interface Pins {
  kubernetes: string;
  etcd: string;
  helm: string;
}

interface Recipe {
  module: 'k8s' | 'k8s-node' | 'etcd' | 'helm' | 'keda';
  pkg: string;
  ldflags: (pins: Pins) => string[];
}

// Bump when the recipes change, so a cached binary built the old way is not reused.
const RECIPE_VERSION = 1;

/** The stamps Kubernetes' own build (hack/lib/version.sh) sets, so /version is not v0.0.0. */
const kubeVersionFlags = ({ kubernetes }: Pins) => {
  const [major, minor] = kubernetes.replace(/^v/, '').split('.');
  return ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'].flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${kubernetes}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ]);
};

const recipes: Record<Name, Recipe> = {
  etcd: { module: 'etcd', pkg: 'go.etcd.io/etcd/server/v3', ldflags: () => [] },
  helm: {
    module: 'helm',
    pkg: 'helm.sh/helm/v3/cmd/helm',
    // Helm's Makefile stamps these; the kube version makes `helm template/lint` default to ours.
    ldflags: ({ helm, kubernetes }) => {
      const minor = kubernetes.split('.')[1];
      return [
        `-X helm.sh/helm/v3/internal/version.version=${helm}`,
        `-X helm.sh/helm/v3/internal/version.gitTreeState=clean`,
        ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((pkg) => [
          `-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1`,
          `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${minor}`,
        ]),
      ];
    },
  },
  'kube-apiserver': {
    module: 'k8s',
    pkg: 'k8s.io/kubernetes/cmd/kube-apiserver',
    ldflags: kubeVersionFlags,
  },
  kubectl: { module: 'k8s', pkg: 'k8s.io/kubernetes/cmd/kubectl', ldflags: kubeVersionFlags },
  'keda-operator': {
    module: 'keda',
    pkg: `${KEDA_MODULE}/cmd/operator`,
    // KEDA's Makefile stamps these (its logs and metrics report the version).
    ldflags: () => [`-X ${KEDA_MODULE}/version.Version=${kedaPin().replace(/^v/, '')}`],
  },
  ...(Object.fromEntries(
    NODE_NAMES.map((name) => [
      name,
      { module: 'k8s-node', pkg: `k8s.io/kubernetes/cmd/${name}`, ldflags: kubeVersionFlags },
    ]),
  ) as Record<NodeName, Recipe>),
};

function requiredVersion(module: string, dependency: string): string {
  const goMod = fs.readFileSync(path.join(toolsDir, module, 'go.mod'), 'utf8');
  const escaped = dependency.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const match = goMod.match(new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm'));
  if (!match) throw new KubeError(`tools/${module}/go.mod does not require ${dependency}`);
  return match[1];
}

export function readPins(): Pins {
  return {
    kubernetes: requiredVersion('k8s', 'k8s.io/kubernetes'),
    etcd: requiredVersion('etcd', 'go.etcd.io/etcd/server/v3'),
    helm: requiredVersion('helm', 'helm.sh/helm/v3'),
  };
}

function modulesHash(modules: string[]): string {
  const hash = createHash('sha256').update(
    `recipe ${RECIPE_VERSION} ${process.platform}-${process.arch}\n`,
  );
  for (const module of modules) {
    for (const file of ['go.mod', 'go.sum'])
      hash.update(fs.readFileSync(path.join(toolsDir, module, file)));
  }
  return hash.digest('hex').slice(0, 10);
}

/** One folder per set of pins: versions for people, a hash of go.mod/go.sum for everything else. */
export function cacheDir(pins = readPins()): string {
  const key = `k8s-${pins.kubernetes}_etcd-${pins.etcd}_helm-${pins.helm}_${modulesHash(['k8s', 'etcd', 'helm'])}`;
  return path.join(toolsCacheRoot(), key);
}

/**
 * The node's binaries come from their own module (tools/k8s-node, same Kubernetes pin), so its
 * extra dependencies never change the key of the folder every suite needs.
 */
export function nodeCacheDir(pins = readPins()): string {
  const nodePin = requiredVersion('k8s-node', 'k8s.io/kubernetes');
  if (nodePin !== pins.kubernetes) {
    throw new KubeError(
      `tools/k8s-node pins k8s.io/kubernetes ${nodePin} but tools/k8s pins ${pins.kubernetes}: run tools/k8s/pin.sh ${pins.kubernetes}`,
    );
  }
  return path.join(toolsCacheRoot(), `k8s-node-${nodePin}_${modulesHash(['k8s-node'])}`);
}

const kedaPin = () => requiredVersion('keda', KEDA_MODULE);

/**
 * KEDA's operator comes from its own module (tools/keda: KEDA's own dependency versions, its
 * replace and exclude copied), so it never changes the key of the kube binaries.
 */
export function kedaCacheDir(): string {
  return path.join(toolsCacheRoot(), `keda-${kedaPin()}_${modulesHash(['keda'])}`);
}

const defaultLog = (line: string) => process.stderr.write(`[warren kube] ${line}\n`);

/**
 * Returns kube-apiserver, etcd and helm, building whatever the cache lacks. Cheap when cached
 * (a few stat calls), so every entry point may call it; the Jest global setup calls it first so
 * a cold build (10-20 min on 2 cores) happens there, with progress, and never inside a test.
 */
export async function ensureKubeBinaries(options: EnsureOptions = {}): Promise<KubeBinaries> {
  const log = options.log ?? defaultLog;
  const pins = readPins();
  const dir = cacheDir(pins);
  const assets = process.env.KUBEBUILDER_ASSETS;
  // KUBEBUILDER_ASSETS must hold kube-apiserver and etcd; helm and kubectl are used when present.
  const inAssets = (name: Name) =>
    assets && fs.existsSync(path.join(assets, name)) ? path.join(assets, name) : undefined;
  if (assets && (!inAssets('kube-apiserver') || !inAssets('etcd'))) {
    throw new KubeError(`KUBEBUILDER_ASSETS=${assets} must hold kube-apiserver and etcd`);
  }
  const wanted: Name[] = [
    'etcd',
    'kube-apiserver',
    'helm',
    ...(options.kubectl ? ['kubectl' as const] : []),
  ];
  const where = (name: Name) => inAssets(name) ?? path.join(dir, name);
  const missing = wanted.filter((name) => !fs.existsSync(where(name)));
  if (missing.length > 0) await buildAll(missing, pins, dir, log);
  const node = options.node ? await ensureNodeBinaries(pins, log) : undefined;
  const kedaOperator = options.keda ? await ensureKedaOperator(log) : undefined;

  return {
    kubeApiserver: where('kube-apiserver'),
    etcd: where('etcd'),
    helm: where('helm'),
    kubectl: options.kubectl || inAssets('kubectl') ? where('kubectl') : undefined,
    kubernetesVersion: assets ? versionOf(where('kube-apiserver')) : pins.kubernetes,
    source: assets ? 'KUBEBUILDER_ASSETS' : 'cache',
    node,
    kedaOperator,
  };
}

async function ensureNodeBinaries(pins: Pins, log: (line: string) => void): Promise<NodeBinaries> {
  const dir = nodeCacheDir(pins);
  const missing = NODE_NAMES.filter((name) => !fs.existsSync(path.join(dir, name)));
  if (missing.length > 0) await buildAll(missing, pins, dir, log);
  const at = (name: NodeName) => path.join(dir, name);
  return {
    kubelet: at('kubelet'),
    kubeControllerManager: at('kube-controller-manager'),
    kubeScheduler: at('kube-scheduler'),
    kubeProxy: at('kube-proxy'),
  };
}

/** KEDA's operator binary (`tools/keda`), built on first use (cold: 11-32 min, see the docs). */
export async function ensureKedaOperator(
  log: (line: string) => void = defaultLog,
): Promise<string> {
  if (kedaPin() !== KEDA_VERSION) {
    throw new KubeError(
      `tools/keda pins ${KEDA_MODULE} ${kedaPin()} but the tests install KEDA ${KEDA_VERSION}'s CRDs (shared/testing/src/kube/keda.ts): make them one version`,
    );
  }
  const dir = kedaCacheDir();
  const binary = path.join(dir, 'keda-operator');
  if (!fs.existsSync(binary))
    await buildAll(
      ['keda-operator'],
      readPins(),
      dir,
      log,
      "KEDA's operator: a cold build is 1280 CPU s and 2.7 GB of memory (its scalers' cloud SDKs): about 11 min on 2 free cores, 32 min measured on a busy 2-core machine; 20-30 s with a warm Go cache",
    );
  return binary;
}

/** `kube-apiserver --version` prints "Kubernetes v1.35.0". */
function versionOf(kubeApiserver: string): string {
  const out = execFileSync(kubeApiserver, ['--version'], { encoding: 'utf8' });
  return out.trim().split(/\s+/).pop() ?? 'unknown';
}

const KUBE_COLD_NOTE =
  'a cold build takes 10-20 min on 2 cores (kubelet alone 3-11 min; seconds with a warm Go cache); set KUBEBUILDER_ASSETS to skip kube-apiserver and etcd';

async function buildAll(
  names: Name[],
  pins: Pins,
  dir: string,
  log: (line: string) => void,
  coldNote = KUBE_COLD_NOTE,
): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const release = await acquireLock(path.join(dir, '.build.lock'), log);
  try {
    const todo = names.filter((name) => !fs.existsSync(path.join(dir, name)));
    if (todo.length === 0) return; // another process built them while we waited
    checkGo();
    log(`building ${todo.join(', ')} from the Go module proxy into ${dir}`);
    log(coldNote);
    const started = Date.now();
    // One at a time: each go build already uses every core (-p), two at once only thrash.
    for (const name of todo) await buildOne(name, pins, dir, log);
    log(`build finished in ${seconds(Date.now() - started)}`);
  } finally {
    release();
  }
}

function checkGo(): void {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
  } catch {
    throw new KubeError(
      'Go (1.25 or later) is needed to build kube-apiserver, etcd and helm: install it, or set KUBEBUILDER_ASSETS ' +
        'to a folder holding kube-apiserver and etcd (see docs/kube-test-environment.md)',
    );
  }
}

async function buildOne(
  name: Name,
  pins: Pins,
  dir: string,
  log: (line: string) => void,
): Promise<void> {
  const recipe = recipes[name];
  const output = path.join(dir, name);
  const partial = `${output}.partial-${process.pid}`;
  const logFile = path.join(dir, `build-${name}.log`);
  const started = Date.now();
  const ldflags = ['-s', '-w', ...recipe.ldflags(pins)].join(' ');
  const args = [
    'build',
    '-p',
    String(buildParallelism()),
    '-mod=readonly',
    '-trimpath',
    '-ldflags',
    ldflags,
    '-o',
    partial,
    recipe.pkg,
  ];
  log(`${name}: go ${args.slice(0, 4).join(' ')} ... ${recipe.pkg} (log: ${logFile})`);
  const ticker = setInterval(
    () => log(`${name}: still building, ${seconds(Date.now() - started)}`),
    30_000,
  );
  const out = fs.openSync(logFile, 'w');
  try {
    const code = await new Promise<number>((resolve) => {
      const child = spawn('go', args, {
        cwd: path.join(toolsDir, recipe.module),
        stdio: ['ignore', out, out],
        env: { ...process.env, CGO_ENABLED: '0' },
      });
      child.once('error', () => resolve(127));
      child.once('exit', (exitCode) => resolve(exitCode ?? 1));
    });
    if (code !== 0)
      throw new KubeError(`building ${name} failed (exit ${code}):\n${tail(logFile)}`);
    fs.renameSync(partial, output); // atomic: a cached binary is always complete
  } finally {
    clearInterval(ticker);
    fs.closeSync(out);
    fs.rmSync(partial, { force: true });
  }
  log(`${name}: built in ${seconds(Date.now() - started)}`);
}

/** Go's default -p is the core count; WARREN_GO_BUILD_P lowers it on machines short of memory. */
function buildParallelism(): number {
  const fromEnv = Number(process.env.WARREN_GO_BUILD_P);
  return Number.isInteger(fromEnv) && fromEnv > 0
    ? fromEnv
    : Math.max(1, os.availableParallelism());
}

/** A lock file holding the builder's pid: two runs never build the same cache at once. */
export async function acquireLock(file: string, log: (line: string) => void): Promise<() => void> {
  let announced = false;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number(fs.readFileSync(file, 'utf8'));
    if (!Number.isInteger(owner) || owner <= 0 || !isAlive(owner)) {
      fs.rmSync(file, { force: true }); // left by a build that was killed
      continue;
    }
    if (!announced) log(`waiting for the build already running in pid ${owner}`);
    announced = true;
    await sleep(2000);
  }
}
