import { z } from 'zod';

/**
 * Payloads of the events in the order saga, one schema per event type. The TypeScript types are
 * inferred from these schemas, so the types and the runtime validation cannot drift apart.
 */
const id = z.string().min(1).max(200);
const cents = z.number().int().nonnegative();
const currency = z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code such as EUR');

export const UserCreatedPayload = z.object({
  userId: id,
  email: z.email(),
  name: z.string().min(1).max(200),
});

export const OrderItem = z.object({
  sku: z.string().min(1).max(100),
  quantity: z.number().int().positive(),
  unitPriceCents: cents,
});

export const OrderCreatedPayload = z.object({
  orderId: id,
  userId: id,
  items: z.array(OrderItem).min(1),
  totalCents: cents,
  currency,
});

export const UserValidatedPayload = z.object({
  orderId: id,
  userId: id,
});

export const UserRejectedPayload = z.object({
  orderId: id,
  userId: id,
  reason: z.enum(['user-not-found', 'user-blocked']),
});

export const OrderConfirmedPayload = z.object({
  orderId: id,
  userId: id,
  totalCents: cents,
  currency,
});

/** Every state of an order: PENDING until the saga confirms or cancels it. */
export const ORDER_STATUSES = ['PENDING', 'CONFIRMED', 'CANCELLED'] as const;
/** Why an order was cancelled: what order.cancelled carries. */
export const CANCEL_REASONS = ['user-rejected', 'timeout', 'client-cancelled'] as const;

export const OrderCancelledPayload = z.object({
  orderId: id,
  userId: id,
  reason: z.enum(CANCEL_REASONS),
});

export type UserCreated = z.infer<typeof UserCreatedPayload>;
export type OrderItem = z.infer<typeof OrderItem>;
export type OrderCreated = z.infer<typeof OrderCreatedPayload>;
export type UserValidated = z.infer<typeof UserValidatedPayload>;
export type UserRejected = z.infer<typeof UserRejectedPayload>;
export type OrderConfirmed = z.infer<typeof OrderConfirmedPayload>;
export type OrderCancelled = z.infer<typeof OrderCancelledPayload>;
