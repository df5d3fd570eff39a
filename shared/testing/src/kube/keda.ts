/**
 * KEDA's own CustomResourceDefinitions (keda.sh/v1alpha1: ScaledObject, TriggerAuthentication,
 * ...), for tests that install them in the test API server. Taken from the KEDA Go module through
 * the Go module proxy (`go mod download`, no Go build: the CRDs are YAML files in the module's
 * config/crd/bases) and cached beside the kube binaries.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { toolsCacheRoot } from './paths';
import { KubeError } from './proc';

/** The KEDA release whose CRDs the tests install. */
export const KEDA_VERSION = 'v2.21.0';
const KEDA_MODULE = 'github.com/kedacore/keda/v2';

/** Folder holding KEDA's keda.sh CRDs (downloaded on first use, a few seconds to a minute). */
export async function ensureKedaCrds(version = KEDA_VERSION): Promise<string> {
  const dir = path.join(toolsCacheRoot(), `keda-crds-${version}`);
  if (fs.existsSync(path.join(dir, 'keda.sh_scaledobjects.yaml'))) return dir;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-keda-'));
  let moduleDir: string;
  try {
    const { stdout } = await promisify(execFile)(
      'go',
      ['mod', 'download', '-json', `${KEDA_MODULE}@${version}`],
      { cwd: work, env: { ...process.env, GOFLAGS: '-mod=mod' }, maxBuffer: 16 << 20 },
    );
    moduleDir = (JSON.parse(stdout) as { Dir: string }).Dir;
  } catch (error) {
    throw new KubeError(
      `could not download ${KEDA_MODULE}@${version} from the Go module proxy: ${(error as Error).message}`,
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const bases = path.join(moduleDir, 'config', 'crd', 'bases');
  const staging = `${dir}.tmp-${process.pid}`;
  fs.mkdirSync(staging, { recursive: true });
  for (const file of fs.readdirSync(bases).filter((f) => /^keda\.sh_.*\.yaml$/.test(f)))
    fs.copyFileSync(path.join(bases, file), path.join(staging, file));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(staging, dir);
  return dir;
}
