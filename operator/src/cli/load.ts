/** Reads Warren resources from a file or a folder of YAML/JSON files and validates each one. */
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

/** Folders are read recursively; every `.yaml`, `.yml` and `.json` file may hold several documents. */
export async function loadResources(path: string): Promise<LoadedResources> {
  const files = await listFiles(path);
  const seen = new Map<string, string>();
  const loaded: LoadedResources = { files, resources: [], errors: [], foreign: [] };
  for (const file of files) {
    const text = await readFile(file, 'utf8');
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
  }
  return loaded;
}

export const routesOf = (resources: WarrenResource[]): EventRoute[] =>
  resources.filter((resource): resource is EventRoute => resource.kind === 'EventRoute');

export const retryPoliciesOf = (resources: WarrenResource[]): RetryPolicy[] =>
  resources.filter((resource): resource is RetryPolicy => resource.kind === 'RetryPolicy');
