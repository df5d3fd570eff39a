import { Inject, Injectable } from '@nestjs/common';
import type { EventEnvelope, UserRejected } from '@warren/contracts';
import type { HandlerContext } from '@warren/messaging';
import { HandleEvent } from '@warren/messaging/nest';
import {
  isUuid,
  OUTBOX,
  type IncomingEvent,
  type RawSqlClient,
  type TransactionalOutbox,
} from '@warren/service-kit';

/** The consumer's transaction (or any other of the service's). */
type Tx = RawSqlClient;

export type RejectionReason = UserRejected['reason'];
export type Eligibility = { allowed: true } | { allowed: false; reason: RejectionReason };

/** The saga rule: a user may order when they exist and are not blocked. */
export function orderEligibility(user: { blocked: boolean } | null): Eligibility {
  if (!user) return { allowed: false, reason: 'user-not-found' };
  if (user.blocked) return { allowed: false, reason: 'user-blocked' };
  return { allowed: true };
}

/** user-service's part in the order saga: answers order.created with user.validated or user.rejected. */
@Injectable()
export class OrderEligibilityHandler {
  constructor(@Inject(OUTBOX) private readonly outbox: TransactionalOutbox<Tx>) {}

  /** Runs inside the consumer's transaction (with its inbox row), so the answer is emitted once. */
  async handleOrderCreated(tx: Tx, event: IncomingEvent<'order.created'>): Promise<Eligibility> {
    const { orderId, userId } = event.payload;
    const [user = null] = isUuid(userId)
      ? await tx.$queryRawUnsafe<{ blocked: boolean }[]>(
          'SELECT blocked FROM users WHERE id = $1::uuid',
          userId,
        )
      : [];
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
