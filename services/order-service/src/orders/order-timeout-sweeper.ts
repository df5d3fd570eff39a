import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  runsBackgroundWork,
  SERVICE_LOGGER,
  SERVICE_THREAD,
  SqlTransactions,
  type ServiceThread,
} from '@warren/service-kit';
import type { Logger } from 'pino';
import { pendingCutoff } from './order-rules';
import { OrderSaga } from './order-saga';

export interface OrderTimeoutSettings {
  /** How long an order may stay PENDING before it is cancelled with reason timeout. */
  timeoutMs: number;
  /** How often to look for such orders; 0 turns the periodic sweep off (tests call sweep()). */
  sweepIntervalMs: number;
}

export const ORDER_TIMEOUTS = Symbol('ORDER_TIMEOUTS');
const BATCH = 100;
/** Oldest first, served by the (status, created_at) index. */
const STALE_ORDERS = `SELECT id FROM orders WHERE status = 'PENDING' AND created_at <= $1
ORDER BY created_at LIMIT ${BATCH}`;

/** Cancels orders the saga left PENDING for too long (the user-service never answered). */
@Injectable()
export class OrderTimeoutSweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<string[]>;

  constructor(
    private readonly sql: SqlTransactions,
    private readonly saga: OrderSaga,
    @Inject(ORDER_TIMEOUTS) private readonly settings: OrderTimeoutSettings,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_THREAD) private readonly thread: ServiceThread,
  ) {}

  /** On the thread that runs the saga's consumers: the messaging worker in production. */
  onApplicationBootstrap(): void {
    if (this.settings.sweepIntervalMs <= 0 || !runsBackgroundWork(this.thread)) return;
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .catch((error: unknown) => {
          this.logger.error({ err: error }, 'order timeout sweep failed');
          return [];
        })
        .finally(() => (this.running = undefined));
    }, this.settings.sweepIntervalMs);
    this.timer.unref();
  }

  /** Before the database client is closed (which happens on application shutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Cancels every order PENDING since before the timeout; returns the ids it cancelled. */
  async sweep(now = new Date()): Promise<string[]> {
    const cancelled: string[] = [];
    for (;;) {
      const { rows: stale } = await this.sql.pool.query<{ id: string }>(STALE_ORDERS, [
        pendingCutoff(now, this.settings.timeoutMs),
      ]);
      for (const { id } of stale) {
        const outcome = await this.sql.$transaction((tx) =>
          this.saga.cancel(tx, id, 'timeout', {
            detail: `no answer from the saga within ${this.settings.timeoutMs} ms`,
          }),
        );
        if (outcome.changed) cancelled.push(id);
      }
      if (stale.length < BATCH) break;
    }
    if (cancelled.length)
      this.logger.info({ orders: cancelled }, 'cancelled orders that timed out');
    return cancelled;
  }
}
