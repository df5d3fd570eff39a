/**
 * `buildImages()`: the operator image and one image per service, from operator/Dockerfile and
 * services/Dockerfile, built by a private dockerd on the base image made here from Debian packages.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../kube/paths';
import { type BaseRootfs, ensureBaseRootfs } from './base';
import { DOCKER_CLI, Dockerd } from './dockerd';
import { imagesStateDir } from './paths';
import { defaultLog, type Log, megabytes, runLogged, seconds, timedStep } from './steps';

/** The three services and the port each listens on (the chart's defaults). */
export const SERVICES = [
  { name: 'user-service', port: 3001 },
  { name: 'order-service', port: 3002 },
  { name: 'notification-service', port: 3003 },
] as const;

export type ServiceName = (typeof SERVICES)[number]['name'];

/** Image names are `<registry>/<name>:<tag>`, as the chart composes them. */
export const DEFAULT_REGISTRY = 'warren.local';
export const DEFAULT_TAG = 'dev';
export const OPERATOR_IMAGE_NAME = 'warren-operator';

export interface BuildImagesOptions {
  /** Node.js in the base image (default: the version node:24-bookworm-slim names, see base.ts). */
  nodeVersion?: string;
  npmVersion?: string;
  registry?: string;
  tag?: string;
  /** Leave the builder running afterwards (`npm run images -- down` stops it). */
  keepBuilder?: boolean;
  log?: Log;
}

export interface BuiltImage {
  /** e.g. warren.local/user-service:dev */
  ref: string;
  /** What it runs: the operator or a service's name. */
  component: 'operator' | ServiceName;
  buildMs: number;
  sizeBytes: number;
}

export interface BuiltImages {
  base: { ref: string; rootfsMs: number; importMs: number; sizeBytes: number };
  operator: BuiltImage;
  services: Record<ServiceName, BuiltImage>;
  /** Every image reference, the base's included: what `loadImages` takes. */
  refs: string[];
  totalMs: number;
}

export async function buildImages(options: BuildImagesOptions = {}): Promise<BuiltImages> {
  const log = options.log ?? defaultLog;
  const registry = options.registry ?? DEFAULT_REGISTRY;
  const tag = options.tag ?? DEFAULT_TAG;
  const started = Date.now();
  const rootfs = await ensureBaseRootfs({
    nodeVersion: options.nodeVersion,
    npmVersion: options.npmVersion,
    log,
  });
  const dockerd = await Dockerd.start(log);
  try {
    const base = await importBase(dockerd, rootfs, registry, log);
    const logFile = path.join(imagesStateDir(), 'build.log');
    fs.writeFileSync(logFile, '');
    const build = async (
      component: BuiltImage['component'],
      ref: string,
      dockerfile: string,
      args: Record<string, string>,
    ): Promise<BuiltImage> => {
      const buildArgs = Object.entries({ BASE_IMAGE: base.ref, ...args }).flatMap(([k, v]) => [
        '--build-arg',
        `${k}=${v}`,
      ]);
      const { ms } = await timedStep(`build ${ref} (log: ${logFile})`, log, () =>
        runLogged(
          DOCKER_CLI,
          [
            'build',
            '--network',
            'host',
            '--progress',
            'plain',
            ...caSecret(),
            '-f',
            dockerfile,
            '-t',
            ref,
            ...buildArgs,
            '.',
          ],
          { cwd: repoRoot, env: dockerd.env, logFile },
        ),
      );
      const sizeBytes = await imageSize(dockerd, ref);
      log(`${ref}: ${megabytes(sizeBytes)}, built in ${seconds(ms)}`);
      return { ref, component, buildMs: ms, sizeBytes };
    };
    const operator = await build(
      'operator',
      `${registry}/${OPERATOR_IMAGE_NAME}:${tag}`,
      'operator/Dockerfile',
      {},
    );
    const services = {} as Record<ServiceName, BuiltImage>;
    for (const { name, port } of SERVICES) {
      services[name] = await build(name, `${registry}/${name}:${tag}`, 'services/Dockerfile', {
        SERVICE: name,
        PORT: String(port),
      });
    }
    const totalMs = Date.now() - started;
    log(`images built in ${seconds(totalMs)}`);
    return {
      base,
      operator,
      services,
      refs: [base.ref, operator.ref, ...Object.values(services).map((image) => image.ref)],
      totalMs,
    };
  } finally {
    if (!options.keepBuilder) await dockerd.stop();
  }
}

/** `docker import` of the rootfs, skipped when the image already carries this rootfs' key. */
async function importBase(
  dockerd: Dockerd,
  rootfs: BaseRootfs,
  registry: string,
  log: Log,
): Promise<BuiltImages['base']> {
  const ref = `${registry}/node:${rootfs.nodeVersion}-${rootfs.suite}`;
  const label = 'dev.warren.base-key';
  const current = await dockerd.docker([
    'image',
    'inspect',
    '-f',
    `{{index .Config.Labels "${label}"}}`,
    ref,
  ]);
  let importMs = 0;
  if (current.code !== 0 || current.stdout.trim() !== rootfs.key) {
    const logFile = path.join(imagesStateDir(), 'import.log');
    const { ms } = await timedStep(`import the base rootfs as ${ref}`, log, () =>
      runLogged(
        DOCKER_CLI,
        [
          'import',
          '--change',
          'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          '--change',
          `LABEL ${label}=${rootfs.key}`,
          '--change',
          'CMD ["node"]',
          rootfs.tarball,
          ref,
        ],
        { env: dockerd.env, logFile },
      ),
    );
    importMs = ms;
  }
  const sizeBytes = await imageSize(dockerd, ref);
  log(`${ref}: ${megabytes(sizeBytes)}`);
  return { ref, rootfsMs: rootfs.buildMs, importMs, sizeBytes };
}

/**
 * The host's CA bundle (NODE_EXTRA_CA_CERTS, as Node on the host uses it) for `npm ci` in the build:
 * needed where a TLS-inspecting proxy stands between the build and the npm registry.
 */
function caSecret(): string[] {
  const bundle = process.env.NODE_EXTRA_CA_CERTS;
  return bundle && fs.existsSync(bundle) ? ['--secret', `id=ca-certificates,src=${bundle}`] : [];
}

async function imageSize(dockerd: Dockerd, ref: string): Promise<number> {
  const { stdout } = await dockerd.docker(['image', 'inspect', '-f', '{{.Size}}', ref]);
  return Number(stdout.trim());
}
