import * as fs from 'node:fs';
import { InfraError, run } from './process';

let aptUpdated = false;

/**
 * Makes sure a Debian package's binary exists, installing the package when we are root.
 * Non-root users get a one-line instruction instead of a sudo prompt in the middle of a test run.
 */
export async function ensureInstalled(
  binary: string,
  debianPackage: string,
  log: (line: string) => void,
): Promise<void> {
  if (fs.existsSync(binary)) return;
  if (process.getuid?.() !== 0) {
    throw new InfraError(
      `${binary} is missing: install it with 'sudo apt-get install -y ${debianPackage}' and run again`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    log('apt-get update ...');
    const update = await run('apt-get', ['update'], { env, timeoutMs: 600_000 });
    if (update.code !== 0) throw new InfraError(`apt-get update failed:\n${update.stderr.trim()}`);
    aptUpdated = true;
  }
  log(`installing Debian package ${debianPackage} ...`);
  const started = Date.now();
  const install = await run('apt-get', ['install', '-y', debianPackage], {
    env,
    timeoutMs: 900_000,
  });
  if (install.code !== 0 || !fs.existsSync(binary)) {
    throw new InfraError(
      `could not install ${debianPackage} (needed for ${binary}):\n${install.stderr.trim().slice(-2000)}`,
    );
  }
  log(`installed ${debianPackage} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
