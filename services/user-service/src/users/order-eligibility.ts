import { Inject, Injectable } from '@nestjs/common';
import type { EventEnvelope, UserRejected } from '@warren/contracts';
import type { HandlerContext } from '@warren/messaging';
import { HandleEvent } from '@warren/messaging/nest';
import { OUTBOX, type IncomingEvent, type TransactionalOutbox } from '@warren/service-kit';
import type { Tx } from '../database/prisma.service';

export type RejectionReason = UserRejected['reason'];
export type Eligibility = { allowed: true } | { allowed: false; reason: RejectionReason };

/** The saga rule: a user may order when they exist and are not blocked. */
export function orderEligibility(user: { blocked: boolean } | null): Eligibility {
  if (!user) return { allowed: false, reason: 'user-not-found' };
  if (user.blocked) return { allowed: false, reason: 'user-blocked' };
  return { allowed: true };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** user-service's part in the order saga: answers order.created with user.validated or user.rejected. */
@Injectable()
export class OrderEligibilityHandler {
  constructor(@Inject(OUTBOX) private readonly outbox: TransactionalOutbox<Tx>) {}

  /** Runs inside the consumer's transaction (with its inbox row), so the answer is emitted once. */
  async handleOrderCreated(tx: Tx, event: IncomingEvent<'order.created'>): Promise<Eligibility> {
    const { orderId, userId } = event.payload;
    const user = UUID.test(userId)
      ? await tx.user.findUnique({ where: { id: userId }, select: { blocked: true } })
      : null;
    const eligibility = orderEligibility(user);
    const answer = { causationId: event.id, aggregateKey: orderId };
    if (eligibility.allowed)
      await this.outbox.append(tx, {
        type: 'user.validated',
        payload: { orderId, userId },
        ...answer,
      });
    else
      await this.outbox.append(tx, {
        type: 'user.rejected',
        payload: { orderId, userId, reason: eligibility.reason },
        ...answer,
      });
    return eligibility;
  }

  @HandleEvent('order.created')
  async onOrderCreated(
    event: EventEnvelope<'order.created'>,
    { tx, logger }: HandlerContext<Tx>,
  ): Promise<void> {
    const eligibility = await this.handleOrderCreated(tx, event);
    logger.info(
      { orderId: event.payload.orderId, userId: event.payload.userId, ...eligibility },
      'order eligibility decided',
    );
  }
}
