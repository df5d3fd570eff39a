import { z } from 'zod';

/**
 * Payloads of the events in the order saga, one schema per event type. The TypeScript types are
 * inferred from these schemas, so the types and the runtime validation cannot drift apart.
 */
const id = z.string().min(1).max(200);

/** Characters as JSON Schema's maxLength counts them (code points), not UTF-16 code units. */
export function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

/** Text of 1 to `max` characters (code points, as the services' OpenAPI documents count them). */
const text = (max: number) =>
  z
    .string()
    .min(1)
    .refine((value) => codePointLength(value) <= max, `expected at most ${max} characters`);

/** The email rule of the contracts (zod's own); the services' API documents state it as `pattern`. */
export const EMAIL_PATTERN = z.regexes.email;

/** The one list of each enumeration the events carry; the services' API documents use them too. */
export const USER_REJECTION_REASONS = ['user-not-found', 'user-blocked'] as const;
export const ORDER_CANCEL_REASONS = ['user-rejected', 'timeout', 'client-cancelled'] as const;
const cents = z.number().int().nonnegative();
const currency = z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code such as EUR');

export const UserCreatedPayload = z.object({
  userId: id,
  email: z.email({ pattern: EMAIL_PATTERN }),
  name: text(200),
});

export const OrderItem = z.object({
  sku: text(100),
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
  reason: z.enum(USER_REJECTION_REASONS),
});

export const OrderConfirmedPayload = z.object({
  orderId: id,
  userId: id,
  totalCents: cents,
  currency,
});

export const OrderCancelledPayload = z.object({
  orderId: id,
  userId: id,
  reason: z.enum(ORDER_CANCEL_REASONS),
});

export type UserCreated = z.infer<typeof UserCreatedPayload>;
export type OrderItem = z.infer<typeof OrderItem>;
export type OrderCreated = z.infer<typeof OrderCreatedPayload>;
export type UserValidated = z.infer<typeof UserValidatedPayload>;
export type UserRejected = z.infer<typeof UserRejectedPayload>;
export type OrderConfirmed = z.infer<typeof OrderConfirmedPayload>;
export type OrderCancelled = z.infer<typeof OrderCancelledPayload>;
