/** The service's topology document asks for a broker object that does not exist (yet). */
export class TopologyMissingError extends Error {
  override readonly name = 'TopologyMissingError';
}

/** The topology document itself is unreadable or malformed. */
export class TopologyDocumentError extends Error {
  override readonly name = 'TopologyDocumentError';
}

/**
 * A failure of a server the handler depends on rather than of the message. Such failures do not
 * use up retry attempts: the message is returned to the queue after a backoff instead.
 */
export class InfrastructureError extends Error {
  override readonly name = 'InfrastructureError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);
/** Prisma: cannot reach / timed out / closed connection / pool timeout / server gone. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);

/**
 * Whether an error says "a server is unavailable" rather than "this message is bad": network
 * errors, PostgreSQL connection/resource/shutdown classes (08, 53, 57P0x), serialization
 * failures and deadlocks (40001, 40P01) and Prisma's connection errors.
 */
export function isInfrastructureError(error: unknown): boolean {
  for (
    let e = error as
        { code?: unknown; cause?: unknown; name?: unknown; message?: unknown } | undefined,
      depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (e instanceof InfrastructureError) return true;
    const code = typeof e.code === 'string' ? e.code : '';
    if (NETWORK_CODES.has(code) || PRISMA_CODES.has(code)) return true;
    if (/^(08|53)/.test(code) || /^57P0[1-3]$/.test(code) || code === '40001' || code === '40P01')
      return true;
    if (e.name === 'PrismaClientInitializationError') return true;
    if (
      typeof e.message === 'string' &&
      /Connection terminated|connection (is )?closed|Client has encountered a connection error/i.test(
        e.message,
      )
    )
      return true;
  }
  return false;
}

/** The kind a RetryPolicy's `nonRetryableErrors` matches: the error's `code` if it has one, else its `name`. */
export function errorKind(error: unknown): string {
  if (error && typeof error === 'object') {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && code) return code;
    if (typeof name === 'string' && name) return name;
  }
  return 'Error';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
