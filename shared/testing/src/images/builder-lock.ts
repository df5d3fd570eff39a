import * as path from 'node:path';
import { acquireLock } from '../kube/build';
import { ensureDir } from '../infra/process';
import { Dockerd } from './dockerd';
import { imagesStateDir } from './paths';
import { defaultLog, type Log } from './steps';

/**
 * Runs `work` (build and load images) as the builder's only user, then stops the builder.
 * Suites run in parallel Jest workers share one dockerd: without this, one suite's stop ends the
 * other's `docker save` half-way.
 */
export async function withImageBuilder<T>(
  work: () => Promise<T>,
  log: Log = defaultLog,
): Promise<T> {
  ensureDir(imagesStateDir());
  const release = await acquireLock(path.join(imagesStateDir(), '.builder.lock'), log);
  try {
    return await work();
  } finally {
    await Dockerd.stopAt().finally(release);
  }
}
