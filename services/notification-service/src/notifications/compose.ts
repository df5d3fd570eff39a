/** What each consumed event tells the user, free of I/O. */
export interface UserCreatedPayload {
  userId: string;
  email: string;
  name: string;
}

export interface OrderConfirmedPayload {
  orderId: string;
  userId: string;
  totalCents: number;
  currency: string;
}

export interface OrderCancelledPayload {
  orderId: string;
  userId: string;
  reason: string;
}

export interface ComposedNotification {
  userId: string;
  kind: 'welcome' | 'order-confirmed' | 'order-cancelled';
  subject: string;
  body: string;
  orderId: string | null;
}

const CANCEL_EXPLANATIONS: Record<string, string> = {
  'user-rejected': 'your account may not place orders',
  timeout: 'we could not confirm it in time',
  'client-cancelled': 'you cancelled it',
};

export function welcome(p: UserCreatedPayload): ComposedNotification {
  return {
    userId: p.userId,
    kind: 'welcome',
    subject: `Welcome, ${p.name}`,
    body: `Hello ${p.name}, your account ${p.email} is ready.`,
    orderId: null,
  };
}

export function orderConfirmed(p: OrderConfirmedPayload): ComposedNotification {
  return {
    userId: p.userId,
    kind: 'order-confirmed',
    subject: `Order ${p.orderId} confirmed`,
    body: `Your order ${p.orderId} is confirmed. Total: ${(p.totalCents / 100).toFixed(2)} ${p.currency}.`,
    orderId: p.orderId,
  };
}

export function orderCancelled(p: OrderCancelledPayload): ComposedNotification {
  const why = CANCEL_EXPLANATIONS[p.reason] ?? p.reason;
  return {
    userId: p.userId,
    kind: 'order-cancelled',
    subject: `Order ${p.orderId} cancelled`,
    body: `Your order ${p.orderId} was cancelled: ${why}.`,
    orderId: p.orderId,
  };
}
