import * as fs from 'node:fs';
import * as path from 'node:path';
import { InfraError } from '../infra/process';
import { DOCKER_CLI, Dockerd } from './dockerd';
import { imagesStateDir } from './paths';
import { defaultLog, type Log, pipeLogged, timedStep } from './steps';

export interface LoadOptions {
  /** The containerd to load into, e.g. the node's. */
  containerdSocket: string;
  /** The kubelet's CRI looks in k8s.io. */
  namespace?: string;
  log?: Log;
}

/**
 * `docker save IMAGES | ctr -n k8s.io images import -`: the images built by `buildImages` (in the
 * private dockerd, started here when it is not running) into a containerd, unpacked, so pods with
 * `imagePullPolicy: IfNotPresent` or `Never` start from them. Image names are kept as built.
 */
export async function loadImages(images: readonly string[], options: LoadOptions): Promise<number> {
  const log = options.log ?? defaultLog;
  if (!fs.existsSync(options.containerdSocket)) {
    throw new InfraError(`no containerd socket at ${options.containerdSocket}`);
  }
  const dockerd = Dockerd.open() ?? (await Dockerd.start(log));
  const logFile = path.join(imagesStateDir(), 'load.log');
  const namespace = options.namespace ?? 'k8s.io';
  const { ms } = await timedStep(
    `load ${images.length} images into containerd (${namespace})`,
    log,
    () =>
      pipeLogged(
        [DOCKER_CLI, ['save', ...images]],
        [
          'ctr',
          [
            '--address',
            options.containerdSocket,
            '--namespace',
            namespace,
            'images',
            'import',
            '-',
          ],
        ],
        { env: dockerd.env, logFile },
      ),
  );
  return ms;
}
