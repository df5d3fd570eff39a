import { Injectable } from '@nestjs/common';
import type { EventEnvelope } from '@warren/contracts';
import type { HandlerContext } from '@warren/messaging';
import { HandleEvent } from '@warren/messaging/nest';
import type { IncomingEvent, RawSqlClient } from '@warren/service-kit';
import { orderCancelled, orderConfirmed, welcome, type ComposedNotification } from './compose';

/** The consumer's transaction. */
type Tx = RawSqlClient;

/** One round trip; a redelivered event (its id is unique in the table) inserts nothing. */
const RECORD = `INSERT INTO notifications (id, user_id, kind, subject, body, event_id, order_id)
VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING`;

/**
 * notification-service's consumers: each records the notification an event calls for, in the
 * consumer's transaction. The event id is unique in the table, so a redelivery records nothing.
 */
@Injectable()
export class NotificationRecorder {
  handleUserCreated(tx: Tx, event: IncomingEvent<'user.created'>): Promise<boolean> {
    return record(tx, event.id, welcome(event.payload));
  }

  handleOrderConfirmed(tx: Tx, event: IncomingEvent<'order.confirmed'>): Promise<boolean> {
    return record(tx, event.id, orderConfirmed(event.payload));
  }

  handleOrderCancelled(tx: Tx, event: IncomingEvent<'order.cancelled'>): Promise<boolean> {
    return record(tx, event.id, orderCancelled(event.payload));
  }

  @HandleEvent('user.created')
  async onUserCreated(
    event: EventEnvelope<'user.created'>,
    { tx, logger }: HandlerContext<Tx>,
  ): Promise<void> {
    logged(logger, event, await this.handleUserCreated(tx, event));
  }

  @HandleEvent('order.confirmed')
  async onOrderConfirmed(
    event: EventEnvelope<'order.confirmed'>,
    { tx, logger }: HandlerContext<Tx>,
  ): Promise<void> {
    logged(logger, event, await this.handleOrderConfirmed(tx, event));
  }

  @HandleEvent('order.cancelled')
  async onOrderCancelled(
    event: EventEnvelope<'order.cancelled'>,
    { tx, logger }: HandlerContext<Tx>,
  ): Promise<void> {
    logged(logger, event, await this.handleOrderCancelled(tx, event));
  }
}

function logged(
  logger: HandlerContext<Tx>['logger'],
  event: { id: string; type: string; payload: { userId: string } },
  recorded: boolean,
): void {
  logger.info(
    { eventId: event.id, userId: event.payload.userId, recorded },
    `notification for ${event.type}`,
  );
}

/** Returns false when the event had already been recorded. */
async function record(
  tx: Tx,
  eventId: string,
  notification: ComposedNotification,
): Promise<boolean> {
  const { userId, kind, subject, body, orderId } = notification;
  const count = await tx.$executeRawUnsafe(RECORD, userId, kind, subject, body, eventId, orderId);
  return count === 1;
}
