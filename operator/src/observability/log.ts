import { createJsonLogger, type Logger } from './json-logger';

export type { Logger };

/**
 * Structured JSON logs. Anything that can carry a secret is redacted by key (see json-logger),
 * and broker URLs are logged through `redactUrl` so credentials never reach a log line.
 */
export function createLogger(
  component: string,
  level = process.env.WARREN_LOG_LEVEL ?? 'info',
): Logger {
  return createJsonLogger({ component }, level);
}

/** amqp://user:secret@host/vhost -> amqp://user:***@host/vhost */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '[unparseable url]';
  }
}
