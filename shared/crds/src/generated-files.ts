import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { crdYaml, typesSource } from './codegen';
import { crdReference } from './reference';
import { resourceDefinitions } from './schema';

export const REPO_ROOT = resolve(__dirname, '../../..');

/** Every file derived from the schemas, formatted as the repository's Prettier would. */
export async function generatedFiles(): Promise<{ path: string; content: string }[]> {
  const files = [
    // The chart carries the same CRDs (Helm installs a chart's crds/ folder before its templates).
    ...['crds', 'charts/warren/crds'].flatMap((folder) =>
      resourceDefinitions.map((definition) => ({
        path: resolve(REPO_ROOT, folder, `${definition.plural}.yaml`),
        content: crdYaml(definition),
      })),
    ),
    {
      path: resolve(REPO_ROOT, 'shared/crds/src/types.generated.ts'),
      content: typesSource(resourceDefinitions),
    },
    {
      path: resolve(REPO_ROOT, 'docs/crd-reference.md'),
      content: crdReference(resourceDefinitions),
    },
    // Helm reads files only from inside the chart: the reference topology is copied in.
    { path: resolve(REPO_ROOT, 'charts/warren/files/topology.yaml'), content: chartTopology() },
  ];
  return Promise.all(
    files.map(async (file) => ({
      path: file.path,
      content: await format(file.content, {
        ...(await resolveConfig(file.path)),
        filepath: file.path,
      }),
    })),
  );
}

/** examples/*.yaml as one multi-document file, for the chart's `topology.enabled`. */
function chartTopology(): string {
  const folder = resolve(REPO_ROOT, 'examples');
  const documents = readdirSync(folder)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => `# examples/${name}\n${readFileSync(resolve(folder, name), 'utf8').trim()}\n`);
  return `# Generated from examples/ by \`npm run generate -w @warren/crds\`: edit examples/ instead.\n${documents.join('---\n')}`;
}
