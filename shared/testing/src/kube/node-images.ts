/**
 * The node's own images: the pause image (the sandbox of every pod: a static Go binary FROM
 * scratch, source in tools/pause) and a toolbox image for tests of the node itself. Both are
 * cached as OCI archives next to the binaries, keyed by what they are made from.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PAUSE_IMAGE } from './node-config';
import { writeImageArchive } from './oci-image';
import { toolsCacheRoot, toolsDir } from './paths';
import { KubeError } from './proc';

export interface ImageArchive {
  name: string;
  archive: string;
}

/** The pause image's archive, built on first use (a `go build` of a few seconds). */
export function pauseImage(): ImageArchive {
  const source = path.join(toolsDir, 'pause');
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'main.go']) hash.update(fs.readFileSync(path.join(source, file)));
  const dir = path.join(toolsCacheRoot(), `pause-${hash.digest('hex').slice(0, 10)}`);
  const archive = path.join(dir, 'pause.oci.tar');
  if (!fs.existsSync(archive)) {
    withRootfs((rootfs) => {
      try {
        execFileSync(
          'go',
          ['build', '-trimpath', '-ldflags=-s -w', '-o', path.join(rootfs, 'pause'), '.'],
          {
            cwd: source,
            env: { ...process.env, CGO_ENABLED: '0' },
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
      } catch (error) {
        throw new KubeError(
          `building the pause image failed: ${String((error as { stderr?: Buffer }).stderr ?? error)}`,
        );
      }
      writeImageArchive({ name: PAUSE_IMAGE, rootfs, entrypoint: ['/pause'] }, archive);
    });
  }
  return { name: PAUSE_IMAGE, archive };
}

export const TOOLBOX_IMAGE = 'warren.local/toolbox:1';
const BUSYBOX = '/bin/busybox'; // Debian's busybox-static

/**
 * For tests of the node itself: busybox (sh, wget, nc, httpd...) from Debian's busybox-static
 * and this process's own `node` with the libraries it links (an HTTPS client that verifies the
 * cluster CA: busybox's TLS cannot talk to the API server's ECDSA certificate).
 */
export function toolboxImage(): ImageArchive {
  if (!fs.existsSync(BUSYBOX))
    throw new KubeError(`${BUSYBOX} is missing: apt-get install busybox-static`);
  const libraries = linkedLibraries(process.execPath);
  const hash = createHash('sha256').update(fs.readFileSync(BUSYBOX));
  for (const file of [process.execPath, ...libraries]) {
    const stat = fs.statSync(file);
    hash.update(`${fs.realpathSync(file)} ${stat.size} ${stat.mtimeMs}\n`);
  }
  const archive = path.join(
    toolsCacheRoot(),
    `toolbox-${hash.digest('hex').slice(0, 10)}`,
    'toolbox.oci.tar',
  );
  if (!fs.existsSync(archive)) {
    withRootfs((rootfs) => {
      const bin = path.join(rootfs, 'bin');
      fs.mkdirSync(bin);
      copyExecutable(BUSYBOX, path.join(bin, 'busybox'));
      const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
      for (const applet of applets)
        if (applet !== 'busybox') fs.symlinkSync('busybox', path.join(bin, applet));
      copyExecutable(process.execPath, path.join(bin, 'node'));
      for (const library of libraries) {
        const target = path.join(rootfs, library);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        copyExecutable(library, target);
      }
      for (const dir of ['tmp', 'etc', 'proc', 'sys', 'dev', 'var/run'])
        fs.mkdirSync(path.join(rootfs, dir), { recursive: true });
      fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
      fs.writeFileSync(
        path.join(rootfs, 'etc', 'passwd'),
        'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
      );
      fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nnobody:x:65534:\n');
      writeImageArchive({ name: TOOLBOX_IMAGE, rootfs, cmd: ['sh'] }, archive);
    });
  }
  return { name: TOOLBOX_IMAGE, archive };
}

/** The shared libraries (and loader) `ldd` lists for a dynamically linked executable. */
function linkedLibraries(executable: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [executable], { encoding: 'utf8' });
  } catch {
    return []; // static
  }
  return [...out.matchAll(/(\/[^\s]+) \(0x/g)].map((match) => match[1]);
}

function copyExecutable(from: string, to: string): void {
  fs.copyFileSync(fs.realpathSync(from), to);
  fs.chmodSync(to, 0o755);
}

function withRootfs(build: (rootfs: string) => void): void {
  const rootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-rootfs-'));
  try {
    build(rootfs);
  } finally {
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
}

/**
 * kubectl alone in an image (the chart's wait-for-migration initContainer runs `kubectl wait`):
 * the static kubectl of the pinned Kubernetes, on PATH, FROM scratch.
 */
export const kubectlImage = (kubectl: string, version: string): ImageArchive =>
  staticBinaryImage({
    name: `warren.local/kubectl:${version}`,
    binary: kubectl,
    at: '/bin/kubectl',
    cacheName: 'kubectl-image',
    env: ['PATH=/bin'],
  });

export interface StaticBinaryImage {
  name: string;
  binary: string;
  /** Where the binary is in the image; also the entrypoint. */
  at: string;
  /** The cache folder's prefix. */
  cacheName: string;
  env?: string[];
  /** Host files copied to the same path (e.g. the CA bundle). */
  files?: string[];
}

/**
 * One static binary FROM scratch (and a /tmp), cached as an OCI archive keyed by the binary's
 * path, size and mtime: a rebuilt binary makes a new image.
 */
export function staticBinaryImage(spec: StaticBinaryImage): ImageArchive {
  const identity = (file: string) => {
    const stat = fs.statSync(file);
    return `${file} ${stat.size} ${stat.mtimeMs}`;
  };
  const files = spec.files ?? [];
  const hash = createHash('sha256')
    .update([spec.binary, ...files].map(identity).join('\n'))
    .digest('hex');
  const archive = path.join(
    toolsCacheRoot(),
    `${spec.cacheName}-${hash.slice(0, 10)}`,
    `${path.basename(spec.at)}.oci.tar`,
  );
  if (!fs.existsSync(archive)) {
    withRootfs((rootfs) => {
      fs.mkdirSync(path.join(rootfs, 'tmp'));
      fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
      const copy = (from: string, to: string, executable: boolean) => {
        fs.mkdirSync(path.dirname(path.join(rootfs, to)), { recursive: true });
        if (executable) copyExecutable(from, path.join(rootfs, to));
        else fs.copyFileSync(fs.realpathSync(from), path.join(rootfs, to));
      };
      copy(spec.binary, spec.at, true);
      for (const file of files) copy(file, file, false);
      writeImageArchive(
        { name: spec.name, rootfs, entrypoint: [spec.at], env: spec.env ?? ['PATH=/'] },
        archive,
      );
    });
  }
  return { name: spec.name, archive };
}
