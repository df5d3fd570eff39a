/**
 * The two Dockerfiles share their build stage word for word (one build, shared layers, for all
 * four images), name every workspace's manifest (npm ci needs them all) and build with no registry.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../src';

const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), 'utf8');
const dockerfiles = ['operator/Dockerfile', 'services/Dockerfile'];

/** From the BASE_IMAGE argument to the runtime stage. */
function buildStage(text: string): string {
  const start = text.indexOf('ARG BASE_IMAGE=');
  const end = text.indexOf('FROM ${BASE_IMAGE} AS runtime');
  if (start < 0 || end < 0) throw new Error('no ARG BASE_IMAGE or no runtime stage');
  return text.slice(start, end);
}

function workspaces(): string[] {
  const patterns = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
  return patterns
    .flatMap((pattern) =>
      pattern.endsWith('/*')
        ? fs
            .readdirSync(path.join(repoRoot, pattern.slice(0, -2)))
            .map((name) => `${pattern.slice(0, -1)}${name}`)
        : [pattern],
    )
    .filter((dir) => fs.existsSync(path.join(repoRoot, dir, 'package.json')));
}

describe('Dockerfiles', () => {
  it('share one build stage, word for word', () => {
    const [operator, services] = dockerfiles.map((file) => buildStage(read(file)));
    expect(services).toBe(operator);
  });

  it('copy every workspace manifest before npm ci', () => {
    const stage = buildStage(read('operator/Dockerfile'));
    const beforeInstall = stage.slice(0, stage.indexOf('\nRUN '));
    const missing = workspaces().filter(
      (dir) => !beforeInstall.includes(`COPY ${dir}/package.json ${dir}/\n`),
    );
    expect(missing).toEqual([]);
  });

  it.each(dockerfiles)(
    '%s takes its base as an argument, needs no registry and runs as uid 1000',
    (file) => {
      const text = read(file);
      expect(text).toMatch(/^ARG BASE_IMAGE=node:\d+-bookworm-slim$/m);
      expect(text.match(/^FROM .*/gm)).toEqual([
        'FROM ${BASE_IMAGE} AS build',
        'FROM ${BASE_IMAGE} AS runtime',
      ]);
      // `# syntax=` makes BuildKit pull a frontend image from Docker Hub.
      expect(text).not.toMatch(/^#\s*syntax=/m);
      expect(text).toMatch(/^USER 1000:1000$/m);
    },
  );
});
