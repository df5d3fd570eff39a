/**
 * `npm run images [-- build] [--node-version 24.22.3] [--tag dev] [--registry warren.local] [--keep]`:
 * builds the base image from Debian packages, then the operator and service images, with a private
 * dockerd that is stopped afterwards (`--keep` leaves it running; `npm run images -- down` stops it).
 * `npm run images -- load --containerd-socket PATH [--namespace k8s.io]` loads them into a containerd.
 */
import { parseArgs } from 'node:util';
import { buildImages, type BuiltImages } from '../images/build';
import { Dockerd } from '../images/dockerd';
import { loadImages } from '../images/load';
import { megabytes, seconds } from '../images/steps';
import { InfraError } from '../infra/process';

const say = (line: string) => process.stderr.write(`${line}\n`);

function summary(built: BuiltImages): void {
  const rows: Array<[string, string, string]> = [
    [
      built.base.ref,
      megabytes(built.base.sizeBytes),
      built.base.rootfsMs > 0 ? `rootfs ${seconds(built.base.rootfsMs)}` : 'rootfs cached',
    ],
    ...[built.operator, ...Object.values(built.services)].map((image): [string, string, string] => [
      image.ref,
      megabytes(image.sizeBytes),
      seconds(image.buildMs),
    ]),
  ];
  const width = Math.max(...rows.map(([ref]) => ref.length));
  say('');
  for (const [ref, size, time] of rows) say(`${ref.padEnd(width)}  ${size.padStart(7)}  ${time}`);
  say(`total ${seconds(built.totalMs)}`);
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      'node-version': { type: 'string' },
      'npm-version': { type: 'string' },
      tag: { type: 'string' },
      registry: { type: 'string' },
      keep: { type: 'boolean' },
      'containerd-socket': { type: 'string' },
      namespace: { type: 'string' },
    },
  });
  const [command = 'build', ...rest] = positionals;
  if (rest.length > 0) throw new InfraError(`unexpected arguments: ${rest.join(' ')}`);
  const buildOptions = {
    nodeVersion: values['node-version'],
    npmVersion: values['npm-version'],
    tag: values.tag,
    registry: values.registry,
    log: say,
  };
  if (command === 'build') {
    summary(await buildImages({ ...buildOptions, keepBuilder: values.keep }));
  } else if (command === 'load') {
    const socket = values['containerd-socket'];
    if (!socket) throw new InfraError('load needs --containerd-socket PATH (the node containerd)');
    const built = await buildImages({ ...buildOptions, keepBuilder: true });
    try {
      await loadImages(built.refs, {
        containerdSocket: socket,
        namespace: values.namespace ?? 'k8s.io',
        log: say,
      });
    } finally {
      if (!values.keep) await Dockerd.stopAt();
    }
    summary(built);
  } else if (command === 'down') {
    const running = Dockerd.open() !== undefined;
    await Dockerd.stopAt();
    say(
      running ? 'image builder (dockerd) stopped' : 'no image builder was running (state cleaned)',
    );
  } else {
    throw new InfraError(`unknown command "${command}": use npm run images -- build|load|down`);
  }
}

main().catch((error: unknown) => {
  say(
    error instanceof InfraError
      ? `error: ${error.message}`
      : String((error as Error).stack ?? error),
  );
  process.exitCode = 1;
});
