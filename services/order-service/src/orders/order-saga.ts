import { Inject, Injectable } from '@nestjs/common';
import type { EventEnvelope } from '@warren/contracts';
import type { HandlerContext } from '@warren/messaging';
import { HandleEvent } from '@warren/messaging/nest';
import {
  OUTBOX,
  isUuid,
  type IncomingEvent,
  type RawSqlClient,
  type TransactionalOutbox,
} from '@warren/service-kit';
import type { CancelReason, OrderStatus } from './order-rules';

/**
 * A transition in one round trip: the conditional update (only out of PENDING), its history
 * row, and the status the order had before (the statement's snapshot): PENDING when it moved,
 * the final status when it had already left PENDING, null when there is no such order (and
 * PENDING without a move when a concurrent transition committed first: see leavePending).
 */
const LEAVE_PENDING = `WITH moved AS (
  UPDATE orders SET status = $2::"OrderStatus", cancel_reason = $3, updated_at = CURRENT_TIMESTAMP
  WHERE id = $1::uuid AND status = 'PENDING'
  RETURNING user_id, total_cents, currency
), h AS (
  INSERT INTO order_events (order_id, type, from_status, to_status, reason, detail)
  SELECT $1::uuid, $4, 'PENDING', $2::"OrderStatus", $3, $5 FROM moved
)
SELECT (SELECT status::text FROM orders WHERE id = $1::uuid) AS "before",
  m.user_id AS "userId", m.total_cents::text AS "totalCents", m.currency
FROM (SELECT 1) AS one LEFT JOIN moved AS m ON true`;

interface LeavePendingRow {
  before: OrderStatus | null;
  userId: string | null;
  totalCents: string | null;
  currency: string | null;
}

export interface TransitionOutcome {
  /** True when this call moved the order out of PENDING. */
  changed: boolean;
  /** The order's status after the call; null when there is no such order. */
  status: OrderStatus | null;
}

interface TransitionOptions {
  /** More detail for the history row, e.g. user-service's rejection reason. */
  detail?: string;
  /** The consumed event that caused the transition. */
  causationId?: string;
}

/** Any transaction of the service: the consumer's, the sweeper's, a client cancel's. */
type Tx = RawSqlClient;

/**
 * The order saga's transitions. Each runs in the caller's transaction: the status change, its
 * history row and its outbox event commit together. A transition only leaves PENDING (a
 * conditional update), so a late saga answer, the timeout sweeper and a client cancel racing for
 * the same order leave exactly one winner and one event.
 */
@Injectable()
export class OrderSaga {
  constructor(@Inject(OUTBOX) private readonly outbox: TransactionalOutbox<Tx>) {}

  confirm(tx: Tx, orderId: string, options: TransitionOptions = {}): Promise<TransitionOutcome> {
    return this.leavePending(tx, orderId, 'CONFIRMED', null, options);
  }

  cancel(
    tx: Tx,
    orderId: string,
    reason: CancelReason,
    options: TransitionOptions = {},
  ): Promise<TransitionOutcome> {
    return this.leavePending(tx, orderId, 'CANCELLED', reason, options);
  }

  /** user.validated: the user may order, so the order is confirmed. */
  handleUserValidated(tx: Tx, event: IncomingEvent<'user.validated'>): Promise<TransitionOutcome> {
    return this.confirm(tx, event.payload.orderId, { causationId: event.id });
  }

  /** user.rejected: the order is cancelled, with the user-service's reason in the history. */
  handleUserRejected(tx: Tx, event: IncomingEvent<'user.rejected'>): Promise<TransitionOutcome> {
    return this.cancel(tx, event.payload.orderId, 'user-rejected', {
      detail: event.payload.reason,
      causationId: event.id,
    });
  }

  @HandleEvent('user.validated')
  async onUserValidated(
    event: EventEnvelope<'user.validated'>,
    { tx, logger }: HandlerContext<Tx>,
  ): Promise<void> {
    const outcome = await this.handleUserValidated(tx, event);
    logger.info({ orderId: event.payload.orderId, ...outcome }, 'saga answer: user validated');
  }

  @HandleEvent('user.rejected')
  async onUserRejected(
    event: EventEnvelope<'user.rejected'>,
    { tx, logger }: HandlerContext<Tx>,
  ): Promise<void> {
    const outcome = await this.handleUserRejected(tx, event);
    logger.info(
      { orderId: event.payload.orderId, reason: event.payload.reason, ...outcome },
      'saga answer: user rejected',
    );
  }

  private async leavePending(
    tx: Tx,
    orderId: string,
    to: Exclude<OrderStatus, 'PENDING'>,
    reason: CancelReason | null,
    { detail, causationId }: TransitionOptions,
  ): Promise<TransitionOutcome> {
    if (!isUuid(orderId)) return { changed: false, status: null };
    const type = to === 'CONFIRMED' ? 'order.confirmed' : 'order.cancelled';
    const [row] = await tx.$queryRawUnsafe<LeavePendingRow[]>(
      LEAVE_PENDING,
      orderId,
      to,
      reason,
      type,
      detail ?? null,
    );
    if (!row?.userId) {
      // PENDING without a move: a concurrent transition won the row lock after this statement's
      // snapshot was taken, so the snapshot is stale; its outcome is read afresh.
      if (row?.before !== 'PENDING') return { changed: false, status: row?.before ?? null };
      const [now] = await tx.$queryRawUnsafe<{ status: OrderStatus }[]>(
        'SELECT status::text AS status FROM orders WHERE id = $1::uuid',
        orderId,
      );
      return { changed: false, status: now?.status ?? null };
    }
    const order = { userId: row.userId, totalCents: row.totalCents!, currency: row.currency! };
    const announce = { aggregateKey: orderId, ...(causationId ? { causationId } : {}) };
    if (reason === null) {
      const payload = {
        orderId,
        userId: order.userId,
        totalCents: Number(order.totalCents),
        currency: order.currency,
      };
      await this.outbox.append(tx, { type: 'order.confirmed', payload, ...announce });
    } else {
      await this.outbox.append(tx, {
        type: 'order.cancelled',
        payload: { orderId, userId: order.userId, reason },
        ...announce,
      });
    }
    return { changed: true, status: to };
  }
}
