import type { NextFunction, Request, Response } from 'express';
import type { Pool } from 'pg';
import type { PoolSettings } from './database-pool';
import type { ServiceMetrics } from './metrics';
import { RETRY_AFTER_HEADER, UNSHED_PATHS } from './openapi';

/** What a shed request is told to wait, in seconds. */
export const SHED_RETRY_AFTER_SECONDS = 1;

/**
 * Back-pressure at the door: when DATABASE_POOL_QUEUE requests already wait for the database (for
 * a pool connection, or for their batched point read to be sent: `waitingReads`), a new one is
 * answered 503 with Retry-After at once (and counted in http_requests_shed_total{reason="database"})
 * instead of joining a queue whose wait would only grow. Health, readiness and metrics never wait for the database, so they are never shed.
 */
export function loadShedding(
  pool: Pool,
  settings: PoolSettings,
  metrics: ServiceMetrics,
  waitingReads: () => number,
) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const waiting = pool.waitingCount + waitingReads();
    if (waiting < settings.queue || UNSHED_PATHS.has(req.path)) return next();
    metrics.shed.inc({ reason: 'database' });
    res.setHeader(RETRY_AFTER_HEADER, String(SHED_RETRY_AFTER_SECONDS));
    res.status(503).json({
      statusCode: 503,
      error: 'Service Unavailable',
      message: `the database is the limit: ${waiting} requests wait for one of its ${settings.size} connections; retry after ${SHED_RETRY_AFTER_SECONDS} s`,
    });
  };
}
