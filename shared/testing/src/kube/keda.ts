/**
 * KEDA's own files, for tests: its CustomResourceDefinitions (keda.sh/v1alpha1: ScaledObject,
 * TriggerAuthentication, ...) for the test API server, and the RBAC its operator runs with.
 * Taken from the KEDA Go module through the Go module proxy (`go mod download`, no Go build: they
 * are YAML files in the module's config/) and cached beside the kube binaries.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { toolsCacheRoot } from './paths';
import { KubeError } from './proc';

/** The KEDA release whose CRDs the tests install (tools/keda pins the same for its operator). */
export const KEDA_VERSION = 'v2.21.0';
export const KEDA_MODULE = 'github.com/kedacore/keda/v2';

/** Folder holding KEDA's keda.sh CRDs (downloaded on first use, a few seconds to a minute). */
export const ensureKedaCrds = (version = KEDA_VERSION) =>
  cachedModuleFiles(`keda-crds-${version}`, version, [
    { from: path.join('config', 'crd', 'bases'), match: /^keda\.sh_.*\.yaml$/ },
  ]);

/**
 * Folder holding the operator's ServiceAccount, ClusterRole, Role (namespace `keda`) and their
 * bindings, exactly as KEDA's config/rbac and config/service_account have them.
 */
export const ensureKedaRbac = (version = KEDA_VERSION) =>
  cachedModuleFiles(`keda-rbac-${version}`, version, [
    { from: path.join('config', 'rbac'), match: /^role(_binding)?\.yaml$/ },
    { from: path.join('config', 'service_account'), match: /^service_account\.yaml$/ },
  ]);

/** Copies the matching files of KEDA's module into a cache folder `name`, once. */
async function cachedModuleFiles(
  name: string,
  version: string,
  sources: { from: string; match: RegExp }[],
): Promise<string> {
  const dir = path.join(toolsCacheRoot(), name);
  if (fs.existsSync(dir)) return dir; // complete: it is renamed into place
  const moduleDir = await kedaModuleDir(version);
  const staging = `${dir}.tmp-${process.pid}`;
  fs.mkdirSync(staging, { recursive: true });
  for (const { from, match } of sources) {
    const files = fs.readdirSync(path.join(moduleDir, from)).filter((f) => match.test(f));
    if (files.length === 0)
      throw new KubeError(`${KEDA_MODULE}@${version} has no ${from}/${match}`);
    for (const file of files)
      fs.copyFileSync(path.join(moduleDir, from, file), path.join(staging, file));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(staging, dir);
  return dir;
}

/** KEDA's module in the Go module cache (`go mod download`: fast when already there). */
async function kedaModuleDir(version: string): Promise<string> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-keda-'));
  try {
    const { stdout } = await promisify(execFile)(
      'go',
      ['mod', 'download', '-json', `${KEDA_MODULE}@${version}`],
      { cwd: work, env: { ...process.env, GOFLAGS: '-mod=mod' }, maxBuffer: 16 << 20 },
    );
    return (JSON.parse(stdout) as { Dir: string }).Dir;
  } catch (error) {
    throw new KubeError(
      `could not download ${KEDA_MODULE}@${version} from the Go module proxy: ${(error as Error).message}`,
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
