import { Injectable } from '@nestjs/common';
import type { IncomingEvent } from '@warren/service-kit';
import type { Tx } from '../database/prisma.service';
import {
  orderCancelled,
  orderConfirmed,
  welcome,
  type ComposedNotification,
  type OrderCancelledPayload,
  type OrderConfirmedPayload,
  type UserCreatedPayload,
} from './compose';

/**
 * notification-service's consumers: each records the notification an event calls for, in the
 * consumer's transaction. The event id is unique in the table, so a redelivery records nothing.
 */
@Injectable()
export class NotificationRecorder {
  handleUserCreated(tx: Tx, event: IncomingEvent<UserCreatedPayload>): Promise<boolean> {
    return record(tx, event.id, welcome(event.payload));
  }

  handleOrderConfirmed(tx: Tx, event: IncomingEvent<OrderConfirmedPayload>): Promise<boolean> {
    return record(tx, event.id, orderConfirmed(event.payload));
  }

  handleOrderCancelled(tx: Tx, event: IncomingEvent<OrderCancelledPayload>): Promise<boolean> {
    return record(tx, event.id, orderCancelled(event.payload));
  }
}

/** Returns false when the event had already been recorded. */
async function record(tx: Tx, eventId: string, notification: ComposedNotification): Promise<boolean> {
  const { count } = await tx.notification.createMany({ data: [{ ...notification, eventId }], skipDuplicates: true });
  return count === 1;
}
