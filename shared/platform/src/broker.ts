import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { serviceUserName } from '@warren/contracts/naming';
import { runWarren } from '@warren/operator';
import { managementRequest } from '@warren/testing';
import type { ServiceName } from './services';

/** Where the broker is, as its administrator sees it, and the vhost the platform lives in. */
export interface BrokerAccess {
  /** AMQP URL with administrator credentials (its path is ignored: `vhost` wins). */
  amqpUrl: string;
  /** Management API URL with administrator credentials. */
  managementUrl: string;
  vhost: string;
}

/**
 * The services' broker passwords: generated once, kept in a file readable by its owner only,
 * never printed. The same passwords on every start, so a broker that kept its users still works.
 */
export function servicePasswords(
  file: string,
  services: readonly ServiceName[],
): Record<ServiceName, string> {
  const stored = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<ServiceName, string>>)
    : {};
  const passwords = Object.fromEntries(
    services.map((s) => [s, stored[s] ?? randomBytes(24).toString('base64url')]),
  ) as Record<ServiceName, string>;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...stored, ...passwords }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return passwords;
}

/** `warren <args>` in-process against the broker; its output is returned, never printed. */
async function warren(
  args: string[],
  broker: BrokerAccess,
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runWarren(
    [...args, '--vhost', broker.vhost],
    { out: (text) => out.push(text), err: (text) => err.push(text) },
    { RABBITMQ_URL: broker.amqpUrl, RABBITMQ_MANAGEMENT_URL: broker.managementUrl, ...env },
  );
  if (code !== 0)
    throw new Error(`warren ${args[0]} failed (exit ${code}):\n${[...err, ...out].join('\n')}`);
  return out.join('\n');
}

const passwordVariable = (service: string) =>
  `WARREN_PASSWORD_${service.toUpperCase().replace(/-/g, '_')}`;

/**
 * `warren apply -f <resources>`: exchanges, queues, retry and dead-letter queues, policies and one
 * broker user per service with the given password. A user the broker already had keeps its
 * permissions and gets the given password again (the state folder may be newer than the broker's).
 * Returns the summary line of the apply.
 */
export async function applyTopology(
  resources: string,
  broker: BrokerAccess,
  passwords: Record<ServiceName, string>,
): Promise<string> {
  const env = Object.fromEntries(
    Object.entries(passwords).map(([service, password]) => [passwordVariable(service), password]),
  );
  const output = await warren(['apply', '-f', resources], broker, env);
  for (const [service, password] of Object.entries(passwords)) {
    const userPath = `/api/users/${encodeURIComponent(serviceUserName(service, broker.vhost))}`;
    const user = await managementRequest<{ tags: string[] | string }>(
      broker.managementUrl,
      'GET',
      userPath,
    );
    const tags = Array.isArray(user.tags) ? user.tags.join(',') : user.tags;
    await managementRequest(broker.managementUrl, 'PUT', userPath, { password, tags });
  }
  return output.trim().split('\n').pop() ?? '';
}

/** `warren topology --service <name>` for each service, written to `<dir>/<service>.json`. */
export async function writeTopologyDocuments(
  resources: string,
  broker: BrokerAccess,
  services: readonly ServiceName[],
  dir: string,
): Promise<Record<ServiceName, string>> {
  mkdirSync(dir, { recursive: true });
  const files: Partial<Record<ServiceName, string>> = {};
  for (const service of services) {
    const file = path.join(dir, `${service}.json`);
    writeFileSync(
      file,
      `${await warren(['topology', '-f', resources, '--service', service], broker)}\n`,
    );
    files[service] = file;
  }
  return files as Record<ServiceName, string>;
}

/** The AMQP URL a service connects with: its own user, in the platform's vhost. */
export function serviceAmqpUrl(
  broker: BrokerAccess,
  service: ServiceName,
  password: string,
): string {
  const url = new URL(broker.amqpUrl);
  url.username = encodeURIComponent(serviceUserName(service, broker.vhost));
  url.password = encodeURIComponent(password);
  url.pathname = `/${encodeURIComponent(broker.vhost)}`;
  return url.toString();
}
