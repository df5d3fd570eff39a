/**
 * Single-layer OCI image archives made from a folder, with no registry and no builder: what
 * the node's own images need (the pause image, test images). `ctr images import` loads them.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeError } from './proc';

export interface ImageSpec {
  /** Full reference, e.g. warren.local/pause:1 (the node never pulls: any name works). */
  name: string;
  /** The image's root file system. */
  rootfs: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
}

const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
};

/** Writes an OCI image layout archive of `spec` to `archive`; reproducible (sorted, mtime 0). */
export function writeImageArchive(spec: ImageSpec, archive: string): void {
  const layout = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-oci-'));
  try {
    const blobs = path.join(layout, 'blobs', 'sha256');
    fs.mkdirSync(blobs, { recursive: true });
    const layerFile = path.join(layout, 'layer.tar');
    tar(
      ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0'],
      ['-C', spec.rootfs, '-cf', layerFile, '.'],
    );
    const layerDigest = sha256(fs.readFileSync(layerFile));
    fs.renameSync(layerFile, path.join(blobs, layerDigest));
    const blob = (content: string) => {
      const digest = sha256(Buffer.from(content));
      fs.writeFileSync(path.join(blobs, digest), content);
      return { digest: `sha256:${digest}`, size: Buffer.byteLength(content) };
    };
    const config = blob(
      JSON.stringify({
        architecture: goArch(),
        os: 'linux',
        config: {
          Entrypoint: spec.entrypoint,
          Cmd: spec.cmd,
          Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        },
        rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
      }),
    );
    const manifest = blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: { mediaType: MEDIA.config, ...config },
        layers: [
          {
            mediaType: MEDIA.layer,
            digest: `sha256:${layerDigest}`,
            size: fs.statSync(path.join(blobs, layerDigest)).size,
          },
        ],
      }),
    );
    fs.writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    fs.writeFileSync(
      path.join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MEDIA.manifest,
            ...manifest,
            platform: { architecture: goArch(), os: 'linux' },
            annotations: {
              'io.containerd.image.name': spec.name,
              'org.opencontainers.image.ref.name': spec.name.split(':').pop(),
            },
          },
        ],
      }),
    );
    fs.mkdirSync(path.dirname(archive), { recursive: true });
    const partial = `${archive}.partial-${process.pid}`;
    tar([], ['-C', layout, '-cf', partial, 'oci-layout', 'index.json', 'blobs']);
    fs.renameSync(partial, archive);
  } finally {
    fs.rmSync(layout, { recursive: true, force: true });
  }
}

function tar(options: string[], args: string[]): void {
  try {
    execFileSync('tar', [...options, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    throw new KubeError(`tar failed: ${String((error as { stderr?: Buffer }).stderr ?? error)}`);
  }
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function goArch(): string {
  const arches: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };
  return arches[process.arch] ?? process.arch;
}
