import type { z } from 'zod';
import {
  OrderCancelledPayload,
  OrderConfirmedPayload,
  OrderCreatedPayload,
  UserCreatedPayload,
  UserRejectedPayload,
  UserValidatedPayload,
} from './payloads';

/**
 * Every event type with its current contract version and payload schema. A breaking payload
 * change adds a new version (and a new entry) instead of editing the old schema in place.
 */
export const EVENT_CONTRACTS = {
  'user.created': { version: 1, payload: UserCreatedPayload },
  'order.created': { version: 1, payload: OrderCreatedPayload },
  'user.validated': { version: 1, payload: UserValidatedPayload },
  'user.rejected': { version: 1, payload: UserRejectedPayload },
  'order.confirmed': { version: 1, payload: OrderConfirmedPayload },
  'order.cancelled': { version: 1, payload: OrderCancelledPayload },
} as const satisfies Record<string, { version: number; payload: z.ZodType }>;

export type EventType = keyof typeof EVENT_CONTRACTS;
export type PayloadOf<T extends EventType> = z.infer<(typeof EVENT_CONTRACTS)[T]['payload']>;

export const EVENT_TYPES = Object.keys(EVENT_CONTRACTS) as EventType[];

export function isEventType(value: string): value is EventType {
  return Object.prototype.hasOwnProperty.call(EVENT_CONTRACTS, value);
}
