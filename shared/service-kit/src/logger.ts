import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Logger } from 'pino';
import { currentCorrelation } from '@warren/messaging';
import { isMessagingWorker, WorkerLogDestination } from './messaging-thread';

let stdout: DestinationStream | undefined;

/**
 * Standard output, buffered: every write is a system call and the access log writes a line per
 * request, so lines are written in chunks of at least 4 KiB or once a second, whichever comes
 * first, and flushed when the process exits (pino's exit hook). A SIGKILL loses at most that
 * second. `LOG_SYNC=true` writes each line at once. One stream per process, shared by its
 * loggers (and the messaging worker's lines), so their chunks never interleave.
 */
export function stdoutDestination(): DestinationStream {
  if (stdout) return stdout;
  // The messaging worker's lines go to the HTTP thread, which writes them with its own.
  if (isMessagingWorker()) return (stdout = new WorkerLogDestination());
  if (process.env.LOG_SYNC === 'true') return (stdout = pino.destination({ dest: 1, sync: true }));
  const stream = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const timer = setInterval(() => stream.flush(), 1000).unref();
  stream.once('close', () => clearInterval(timer));
  return (stdout = stream);
}

/** One JSON object per line, each carrying the service name and the correlation id of its work. */
export function createJsonLogger(
  service: string,
  destination: DestinationStream = stdoutDestination(),
): Logger {
  return pino(
    {
      level: process.env.LOG_LEVEL ?? 'info',
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      // The request's or the consumed event's correlation (and causation) id.
      mixin: () => ({ ...currentCorrelation() }),
    },
    destination,
  );
}

/** Nest's own log calls (start-up, errors) written through the JSON logger. */
export class NestJsonLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.write('info', message, context);
  }
  error(message: unknown, stackOrContext?: string, context?: string): void {
    const stack = context ? stackOrContext : undefined;
    this.write('error', message, context ?? stackOrContext, stack);
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('trace', message, context);
  }

  private write(level: pino.Level, message: unknown, context?: string, stack?: string): void {
    const fields: Record<string, unknown> = {};
    if (context) fields.context = context;
    if (stack) fields.stack = stack;
    if (message instanceof Error) this.logger[level]({ ...fields, err: message }, message.message);
    else if (typeof message === 'object' && message !== null)
      this.logger[level]({ ...fields, ...message });
    else this.logger[level](fields, String(message));
  }
}
