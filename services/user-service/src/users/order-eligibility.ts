import { Inject, Injectable } from '@nestjs/common';
import { OUTBOX, type IncomingEvent, type TransactionalOutbox } from '@warren/service-kit';
import type { Tx } from '../database/prisma.service';

export type RejectionReason = 'user-not-found' | 'user-blocked';
export type Eligibility = { allowed: true } | { allowed: false; reason: RejectionReason };

/** The saga rule: a user may order when they exist and are not blocked. */
export function orderEligibility(user: { blocked: boolean } | null): Eligibility {
  if (!user) return { allowed: false, reason: 'user-not-found' };
  if (user.blocked) return { allowed: false, reason: 'user-blocked' };
  return { allowed: true };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface OrderCreatedPayload {
  orderId: string;
  userId: string;
}

/** user-service's part in the order saga: answers order.created with user.validated or user.rejected. */
@Injectable()
export class OrderEligibilityHandler {
  constructor(@Inject(OUTBOX) private readonly outbox: TransactionalOutbox<Tx>) {}

  /** Runs inside the consumer's transaction (with its inbox row), so the answer is emitted once. */
  async handleOrderCreated(tx: Tx, event: IncomingEvent<OrderCreatedPayload>): Promise<Eligibility> {
    const { orderId, userId } = event.payload;
    const user = UUID.test(userId) ? await tx.user.findUnique({ where: { id: userId }, select: { blocked: true } }) : null;
    const eligibility = orderEligibility(user);
    await this.outbox.append(tx, {
      type: eligibility.allowed ? 'user.validated' : 'user.rejected',
      payload: eligibility.allowed ? { orderId, userId } : { orderId, userId, reason: eligibility.reason },
      causationId: event.id,
    });
    return eligibility;
  }
}
