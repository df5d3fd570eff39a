/** The order saga's states and rules, free of I/O. */
import { ORDER_CANCEL_REASONS } from '@warren/contracts';

/** The saga's states (the database enum OrderStatus has the same members). */
export const ORDER_STATUSES = ['PENDING', 'CONFIRMED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
/** The reasons order.cancelled carries (its contract is the one source). */
export const CANCEL_REASONS = ORDER_CANCEL_REASONS;
export type CancelReason = (typeof CANCEL_REASONS)[number];
/** What a history row records: the event each transition emitted. */
export const ORDER_EVENT_TYPES = ['order.created', 'order.confirmed', 'order.cancelled'] as const;

export const DEFAULT_CURRENCY = 'EUR';

/** Prices travel as decimal numbers in the API and are stored and summed as whole cents. */
export function toCents(amount: number): number {
  return Math.round(amount * 100);
}

export function fromCents(cents: number): number {
  return cents / 100;
}

export function orderTotalCents(
  items: readonly { quantity: number; unitPriceCents: number }[],
): number {
  return items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
}

/** PENDING orders created at or before this instant have waited too long for the saga's answer. */
export function pendingCutoff(now: Date, timeoutMs: number): Date {
  return new Date(now.getTime() - timeoutMs);
}
