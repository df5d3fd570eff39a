import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Anything that can carry a secret is redacted by path, and broker URLs
 * are logged through `redactUrl` so credentials never reach a log line.
 */
export function createLogger(
  component: string,
  level = process.env.WARREN_LOG_LEVEL ?? 'info',
): Logger {
  return pino({
    level,
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: [
        'password',
        '*.password',
        'credentials',
        '*.credentials',
        'authorization',
        '*.authorization',
        'data',
        '*.data',
      ],
      censor: '[redacted]',
    },
  });
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
