/**
 * Writes crds/<plural>.yaml and shared/crds/src/types.generated.ts from the TypeScript schemas.
 * `--check` writes nothing and exits 1 when a committed file is stale.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generatedFiles } from '../src/generated-files';

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const file of await generatedFiles()) {
    const current = await readFile(file.path, 'utf8').catch(() => '');
    if (current === file.content) continue;
    if (check) {
      stale += 1;
      console.error(`stale: ${file.path}`);
    } else {
      await mkdir(dirname(file.path), { recursive: true });
      await writeFile(file.path, file.content);
      console.log(`wrote ${file.path}`);
    }
  }
  if (stale) process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
