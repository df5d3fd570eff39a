/**
 * Where the broker is: flags first, then RABBITMQ_URL / RABBITMQ_MANAGEMENT_URL. Shared by the
 * CLI and the operator, so both find the broker, and the default vhost, the same way. The
 * management URL may name every node of a cluster, comma-separated: calls go to a node that
 * answers.
 */
import { DEFAULT_VHOST } from '../engine/naming';

export interface BrokerSettings {
  /** The first of managementUrls. */
  managementUrl: string;
  /** Every node's management API (one URL for a single node). */
  managementUrls: string[];
  /** AMQP URL (for exact queue depths before a delete); derived from the management URL when not given. */
  amqpUrl: string;
  /** The vhost of routes that do not name one: the AMQP URL's path, else "/". */
  defaultVhost: string;
}

/** Neither flags nor environment say where the broker is. */
export class NoBrokerError extends Error {
  override name = 'NoBrokerError';
}

/**
 * The management URL, or one derived from the AMQP URL (same host and credentials, port 15672)
 * when only that is given.
 */
export function brokerSettings(
  flags: { rabbitmqUrl?: string; managementUrl?: string; vhost?: string },
  env: NodeJS.ProcessEnv,
): BrokerSettings {
  const amqpUrl = flags.rabbitmqUrl ?? env.RABBITMQ_URL;
  const managementUrls = splitUrls(flags.managementUrl ?? env.RABBITMQ_MANAGEMENT_URL);
  let managementUrl = managementUrls[0];
  const amqp = amqpUrl ? new URL(amqpUrl) : undefined;
  if (!managementUrl && amqp) {
    // A new URL: WHATWG URLs refuse to switch a custom scheme (amqp) to a special one (http).
    const derived = new URL(`${amqp.protocol === 'amqps:' ? 'https' : 'http'}://${amqp.host}`);
    derived.username = amqp.username;
    derived.password = amqp.password;
    derived.port = '15672';
    derived.pathname = '/';
    managementUrl = derived.toString();
  }
  if (!managementUrl) {
    throw new NoBrokerError(
      'no broker: pass --management-url (or --rabbitmq-url), or set RABBITMQ_MANAGEMENT_URL or RABBITMQ_URL',
    );
  }
  return {
    managementUrl,
    managementUrls: managementUrls.length > 0 ? managementUrls : [managementUrl],
    amqpUrl: amqpUrl ?? amqpFromManagement(managementUrl),
    defaultVhost: defaultVhost(flags, env),
  };
}

/** `a,b , c` -> the URLs, each checked, so a typo names itself rather than a later fetch error. */
function splitUrls(raw: string | undefined): string[] {
  const urls = (raw ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
  for (const url of urls) {
    const protocol = URL.canParse(url) ? new URL(url).protocol : undefined;
    if (protocol !== 'http:' && protocol !== 'https:')
      throw new Error(
        `management URL "${redacted(url)}" is not an http(s) URL (http://user:password@host:port)`,
      );
  }
  return urls;
}

/** Enough of a bad URL to find it, never its password. */
const redacted = (url: string) => url.replace(/^([^@]*\/\/)?[^@/]*@/, '$1***@');

function amqpFromManagement(managementUrl: string): string {
  const url = new URL(managementUrl);
  const amqp = new URL(`${url.protocol === 'https:' ? 'amqps' : 'amqp'}://${url.host}`);
  amqp.username = url.username;
  amqp.password = url.password;
  amqp.port = url.protocol === 'https:' ? '5671' : '5672';
  return amqp.toString();
}

/** --vhost, else the path of the AMQP URL, else "/". */
export function defaultVhost(
  flags: { rabbitmqUrl?: string; vhost?: string },
  env: NodeJS.ProcessEnv,
): string {
  const amqpUrl = flags.rabbitmqUrl ?? env.RABBITMQ_URL;
  const path = amqpUrl ? new URL(amqpUrl).pathname : '';
  return flags.vhost ?? (path.length > 1 ? decodeURIComponent(path.slice(1)) : DEFAULT_VHOST);
}
