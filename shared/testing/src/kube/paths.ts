import * as os from 'node:os';
import * as path from 'node:path';

/** The repository root: four levels above this file (shared/testing/src/kube). */
export const repoRoot = path.resolve(__dirname, '../../../..');

/** The Go modules that pin kube-apiserver, etcd and helm. */
export const toolsDir = path.join(repoRoot, 'tools');

/** Project state (git-ignored), shared with the other local servers: WARREN_STATE_DIR or .warren/. */
export function stateRoot(): string {
  return path.resolve(process.env.WARREN_STATE_DIR || path.join(repoRoot, '.warren'));
}

/** Built binaries live outside the checkout so every worktree and CI run shares them. */
export function toolsCacheRoot(): string {
  if (process.env.WARREN_TOOLS_CACHE) return path.resolve(process.env.WARREN_TOOLS_CACHE);
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'warren', 'tools');
}
