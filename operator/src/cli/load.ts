/**
 * Reads Warren resources from files, folders of YAML/JSON files or standard input (`-f -`), and
 * validates each one.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { EventRoute, FieldError, RetryPolicy, WarrenResource } from '@warren/crds';
import { validateResource } from '@warren/crds';
import { parseAllDocuments } from 'yaml';

export interface FileError extends FieldError {
  file: string;
}

export interface LoadedResources {
  files: string[];
  resources: WarrenResource[];
  errors: FileError[];
  /** Documents of other kinds (a Secret beside the routes), left alone. */
  foreign: { file: string; kind: string }[];
}

/** `-f -`: the documents come from standard input (kubectl's convention). */
export const STDIN = '-';
export const STDIN_NAME = '(stdin)';

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

async function listFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => {
    throw new Error(`${path}: no such file or folder`);
  });
  if (info.isFile()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const nested = await Promise.all(
    entries
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((entry) => {
        const child = join(path, entry.name);
        if (entry.isDirectory()) return listFiles(child);
        return Promise.resolve(EXTENSIONS.has(extname(entry.name)) ? [child] : []);
      }),
  );
  return nested.flat();
}

export async function readProcessStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new Error('-f -: standard input is a terminal; pipe the YAML/JSON in');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** An empty result to add documents to (files, or objects listed from the API server). */
export const emptyLoad = (files: string[]): LoadedResources => ({
  files,
  resources: [],
  errors: [],
  foreign: [],
});

/** Validates one document and adds it (or its errors) to `loaded`; `seen` catches duplicates. */
export function addDocument(
  loaded: LoadedResources,
  seen: Map<string, string>,
  file: string,
  value: unknown,
): void {
  const result = validateResource(value);
  if (result.outcome === 'valid') {
    const { kind, metadata } = result.resource;
    const key = `${kind} ${metadata.namespace}/${metadata.name}`;
    const first = seen.get(key);
    if (first) {
      loaded.errors.push({
        file,
        resource: key,
        field: 'metadata.name',
        message: `Duplicate value: already defined in ${first}`,
      });
    } else {
      seen.set(key, file);
      loaded.resources.push(result.resource);
    }
  } else if (result.outcome === 'foreign') loaded.foreign.push({ file, kind: result.kind });
  else loaded.errors.push(...result.errors.map((error) => ({ file, ...error })));
}

function listItems(value: unknown): unknown[] | undefined {
  const list = value as { kind?: unknown; items?: unknown };
  return typeof value === 'object' && list.kind === 'List' && Array.isArray(list.items)
    ? list.items
    : undefined;
}

/**
 * Reads every path in order: a file, a folder (read recursively) or `-` for standard input; each
 * may hold several documents. A resource defined twice, in one path or across them, is an error.
 */
export async function loadResources(
  paths: string | string[],
  readStdin: () => Promise<string> = readProcessStdin,
): Promise<LoadedResources> {
  const list = typeof paths === 'string' ? [paths] : paths;
  if (list.filter((path) => path === STDIN).length > 1)
    throw new Error('-f - (standard input) can be given only once');
  const files: string[] = [];
  for (const path of list) files.push(...(path === STDIN ? [STDIN_NAME] : await listFiles(path)));
  const seen = new Map<string, string>();
  const loaded = emptyLoad(files);
  for (const file of files) {
    const text = file === STDIN_NAME ? await readStdin() : await readFile(file, 'utf8');
    for (const document of parseAllDocuments(text)) {
      if (document.errors.length > 0) {
        for (const error of document.errors) {
          loaded.errors.push({
            file,
            resource: '(document)',
            field: '',
            message: `YAML: ${error.message}`,
          });
        }
        continue;
      }
      const value: unknown = document.toJS();
      if (value === null || value === undefined) continue;
      // `kubectl get ... -o yaml` of several objects is one `kind: List`.
      for (const item of listItems(value) ?? [value]) addDocument(loaded, seen, file, item);
    }
  }
  return loaded;
}

export const routesOf = (resources: WarrenResource[]): EventRoute[] =>
  resources.filter((resource): resource is EventRoute => resource.kind === 'EventRoute');

export const retryPoliciesOf = (resources: WarrenResource[]): RetryPolicy[] =>
  resources.filter((resource): resource is RetryPolicy => resource.kind === 'RetryPolicy');
