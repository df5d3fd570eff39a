import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as K8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { repoRoot } from './paths';
import { KubeError, waitUntil } from './proc';

/** Every .yaml/.yml file under `dir`, sorted so the apply order is stable. */
function yamlFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.ya?ml$/.test(file))
    .sort()
    .map((file) => path.join(dir, file));
}

/**
 * Server-side applies every document of every YAML file in `dir` (the repository's crds/ by
 * default; none yet is fine) and waits until each CustomResourceDefinition is Established,
 * after which its resources can be created. Resolves the CRD names.
 */
export async function installCrds(
  kubeconfigPath: string,
  dir = path.join(repoRoot, 'crds'),
): Promise<string[]> {
  const k8s = await client();
  const documents = yamlFiles(dir).flatMap(
    (file) =>
      k8s.loadAllYaml(fs.readFileSync(file, 'utf8')).filter(Boolean) as K8s.KubernetesObject[],
  );
  await applyObjects(kubeconfigPath, documents);
  const names = documents
    .filter((document) => document.kind === 'CustomResourceDefinition')
    .map((document) => document.metadata!.name!);

  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const crds = config.makeApiClient(k8s.ApiextensionsV1Api);
  for (const name of names) {
    const established = await waitUntil(async () => {
      const crd = await crds.readCustomResourceDefinition({ name });
      return Boolean(
        crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'),
      );
    }, 30_000);
    if (!established) throw new KubeError(`CRD ${name} was not Established within 30 s`);
  }
  return names;
}

/** Server-side applies each object in order (field manager `warren-tests`). */
export async function applyObjects(
  kubeconfigPath: string,
  documents: readonly K8s.KubernetesObject[],
): Promise<void> {
  const k8s = await client();
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const objects = config.makeApiClient(k8s.KubernetesObjectApi);
  for (const document of documents) {
    await objects.patch(
      document,
      undefined,
      undefined,
      'warren-tests',
      true,
      k8s.PatchStrategy.ServerSideApply,
    );
  }
}

// Dynamic import: the client is ESM-only and this package compiles to CommonJS.
const client = (): Promise<typeof K8s> => import('@kubernetes/client-node');
