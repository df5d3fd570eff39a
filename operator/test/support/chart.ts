/** The Helm chart rendered as `helm template` would install it, one object per document. */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '@warren/testing';

export const CHART = path.join(repoRoot, 'charts/warren');
export const RELEASE = 'warren';

export interface RenderedObject {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- objects of any kind
  spec?: any;
}

/** `helm template` of the chart as release `warren` in `namespace`; `args` are extra flags. */
export async function renderChart(
  helm: string,
  namespace: string,
  args: string[] = [],
  env?: NodeJS.ProcessEnv,
): Promise<RenderedObject[]> {
  const { stdout } = await promisify(execFile)(
    helm,
    ['template', RELEASE, CHART, '--namespace', namespace, ...args],
    { env },
  );
  return parseAllDocuments(stdout)
    .map((doc) => doc.toJS() as RenderedObject | null)
    .filter((doc) => doc !== null);
}
