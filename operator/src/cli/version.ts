/** What `warren --version` and `warren version` report. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_VERSION } from '@warren/crds/core';
import type { CommandOptions } from './commands';
import { EXIT } from './exit';
import type { Output } from './output';
import { render } from './output';

/** Set by the bundle's build (cli/build.js); absent when running the sources. */
declare const WARREN_BUILT_VERSIONS: { cli: string; engine: string } | undefined;

export interface Versions {
  /** The CLI package's version. */
  cli: string;
  /** The version of @warren/operator, whose topology engine (compile, plan, apply) the CLI runs. */
  engine: string;
  /** The CRDs' group and version the CLI reads and validates. */
  crds: string;
  node: string;
}

function sourceVersions(): { cli: string; engine: string } {
  const version = (file: string) =>
    (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  // operator/src/cli or operator/dist/cli: the operator's package.json is two folders up.
  const engine = version(join(__dirname, '../../package.json'));
  let cli = engine;
  try {
    cli = version(join(__dirname, '../../cli/package.json'));
  } catch {
    // The operator image built without the CLI package: one version for both.
  }
  return { cli, engine };
}

export function versions(): Versions {
  const built = typeof WARREN_BUILT_VERSIONS === 'undefined' ? undefined : WARREN_BUILT_VERSIONS;
  return { ...(built ?? sourceVersions()), crds: API_VERSION, node: process.version };
}

export async function versionCommand(options: CommandOptions, io: Output): Promise<number> {
  const v = versions();
  io.out(
    render(options.output, v, () =>
      [
        `warren ${v.cli}`,
        `engine: @warren/operator ${v.engine}`,
        `CRDs: ${v.crds}`,
        `node: ${v.node}`,
      ].join('\n'),
    ),
  );
  return EXIT.ok;
}
