import * as path from 'node:path';
import { toolsCacheRoot, stateRoot } from '../kube/paths';

/** Base root filesystems and downloads, shared by every checkout: WARREN_IMAGES_CACHE or next to the kube binaries. */
export function imagesCacheRoot(): string {
  if (process.env.WARREN_IMAGES_CACHE) return path.resolve(process.env.WARREN_IMAGES_CACHE);
  return path.join(path.dirname(toolsCacheRoot()), 'images');
}

/** The builder's and the test containerd's state: inside the project's state folder. */
export function imagesStateDir(): string {
  return path.join(stateRoot(), 'images');
}
