import pino, { type Logger } from 'pino';
import { currentCorrelation } from './correlation';

export type { Logger };

/**
 * A JSON logger whose every line carries the correlation id (and causation id) of the work it
 * was written for, read from the async context rather than passed around by hand.
 */
export function createLogger(
  service: string,
  options: pino.LoggerOptions = {},
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    {
      level: process.env.LOG_LEVEL ?? 'info',
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...options,
      mixin: () => {
        const context = currentCorrelation();
        return context ? { ...context } : {};
      },
    },
    destination ?? pino.destination(1),
  );
}
