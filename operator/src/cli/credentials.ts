/**
 * Generated passwords never go to a terminal or a log: `apply` writes them to a file only its
 * owner may read (mode 0600), in the form `apply` itself reads them back
 * (`WARREN_PASSWORD_<SERVICE>=...`, so `set -a; . ./warren-credentials.env; set +a` reuses them),
 * and prints where. `--show-secrets` is the only way to have them printed.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Credential } from '../broker/apply';
import type { UserObject } from '../engine/model';

export const DEFAULT_CREDENTIALS_FILE = 'warren-credentials.env';

/** WARREN_PASSWORD_<SERVICE>: upper case, `-` as `_`. */
export const passwordVariable = (service: string) =>
  `WARREN_PASSWORD_${service.toUpperCase().replace(/-/g, '_')}`;

/** A service user's password from the environment; undefined has apply generate one. */
export const passwordFromEnv = (env: NodeJS.ProcessEnv) => (user: UserObject) =>
  env[passwordVariable(user.service)];

const ASSIGNMENT = /^([A-Z0-9_]+)=/;

/**
 * Adds (or replaces) the credentials' variables in `file`, keeping its other lines; the file is
 * written anew with mode 0600 and renamed into place, so no reader ever sees it half written or
 * with wider permissions. Returns the absolute path.
 */
export async function saveCredentials(file: string, credentials: Credential[]): Promise<string> {
  const path = resolve(file);
  const existing = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const replaced = new Set(credentials.map((c) => passwordVariable(c.service)));
  const variable = (line: string | undefined) => ASSIGNMENT.exec(line ?? '')?.[1] ?? '';
  const lines = existing.split('\n');
  const kept = lines.filter(
    (line, i) =>
      line !== '' &&
      !replaced.has(variable(line)) &&
      // A comment belongs to the assignment after it.
      !(line.startsWith('# user ') && replaced.has(variable(lines[i + 1]))),
  );
  const added = credentials.flatMap((c) => [
    `# user ${c.user} (vhost ${c.vhost}), ${new Date().toISOString()}`,
    `${passwordVariable(c.service)}=${c.password}`,
  ]);
  const temporary = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(temporary, [...kept, ...added, ''].join('\n'), { mode: 0o600, flag: 'wx' });
  await chmod(temporary, 0o600); // the umask may have narrowed it further, never widened: be exact
  await rename(temporary, path);
  return path;
}

/** Credentials as printed in -o json|yaml: the password only with --show-secrets. */
export const shownCredentials = (credentials: Credential[], showSecrets: boolean) =>
  credentials.map(({ password, ...rest }) => (showSecrets ? { ...rest, password } : rest));
