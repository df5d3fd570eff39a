/** What each consumed event tells the user, free of I/O. */
import type { OrderCancelled, OrderConfirmed, UserCreated } from '@warren/contracts';

export const NOTIFICATION_KINDS = ['welcome', 'order-confirmed', 'order-cancelled'] as const;

export interface ComposedNotification {
  userId: string;
  kind: (typeof NOTIFICATION_KINDS)[number];
  subject: string;
  body: string;
  orderId: string | null;
}

const CANCEL_EXPLANATIONS: Record<OrderCancelled['reason'], string> = {
  'user-rejected': 'your account may not place orders',
  timeout: 'we could not confirm it in time',
  'client-cancelled': 'you cancelled it',
};

export function welcome(p: UserCreated): ComposedNotification {
  return {
    userId: p.userId,
    kind: 'welcome',
    subject: `Welcome, ${p.name}`,
    body: `Hello ${p.name}, your account ${p.email} is ready.`,
    orderId: null,
  };
}

export function orderConfirmed(p: OrderConfirmed): ComposedNotification {
  return {
    userId: p.userId,
    kind: 'order-confirmed',
    subject: `Order ${p.orderId} confirmed`,
    body: `Your order ${p.orderId} is confirmed. Total: ${(p.totalCents / 100).toFixed(2)} ${p.currency}.`,
    orderId: p.orderId,
  };
}

export function orderCancelled(p: OrderCancelled): ComposedNotification {
  const why = CANCEL_EXPLANATIONS[p.reason];
  return {
    userId: p.userId,
    kind: 'order-cancelled',
    subject: `Order ${p.orderId} cancelled`,
    body: `Your order ${p.orderId} was cancelled: ${why}.`,
    orderId: p.orderId,
  };
}
