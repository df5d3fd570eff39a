import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface GeneratedFile {
  path: string;
  content: string;
}

/**
 * Writes generated files that differ from what is on disk; with `check`, writes nothing and
 * returns the stale paths instead (a generator script then exits 1).
 */
export async function syncGeneratedFiles(
  files: GeneratedFile[],
  check: boolean,
  log: (line: string) => void = console.log,
): Promise<string[]> {
  const stale: string[] = [];
  for (const file of files) {
    const current = await readFile(file.path, 'utf8').catch(() => '');
    if (current === file.content) continue;
    stale.push(file.path);
    if (check) {
      log(`stale: ${file.path}`);
    } else {
      await mkdir(dirname(file.path), { recursive: true });
      await writeFile(file.path, file.content);
      log(`wrote ${file.path}`);
    }
  }
  return check ? stale : [];
}

/** The body of a `generate [--check]` script. */
export function runGenerator(files: () => Promise<GeneratedFile[]> | GeneratedFile[]): void {
  const check = process.argv.includes('--check');
  Promise.resolve(files())
    .then((list) => syncGeneratedFiles(list, check))
    .then(
      (stale) => {
        if (stale.length > 0) process.exit(1);
      },
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
}
