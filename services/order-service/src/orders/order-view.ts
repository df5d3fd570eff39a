import type { Prisma } from '../generated/prisma/client';
import type { Tx } from '../database/prisma.service';
import { fromCents } from './order-rules';
import type { OrderView } from './order.dto';

export const ORDER_WITH_HISTORY = {
  items: { orderBy: { position: 'asc' } },
  history: { orderBy: { id: 'asc' } },
} as const satisfies Prisma.OrderInclude;

type OrderWithHistory = Prisma.OrderGetPayload<{ include: typeof ORDER_WITH_HISTORY }>;

/** What the view is made of: an order as Prisma reads it, or as the create statement knows it. */
export interface OrderRecord extends Pick<
  OrderWithHistory,
  'id' | 'userId' | 'status' | 'currency' | 'cancelReason' | 'createdAt' | 'updatedAt'
> {
  totalCents: bigint | number;
  items: Pick<OrderWithHistory['items'][number], 'sku' | 'quantity' | 'unitPriceCents'>[];
  history: Pick<
    OrderWithHistory['history'][number],
    'type' | 'fromStatus' | 'toStatus' | 'reason' | 'detail' | 'occurredAt'
  >[];
}

export function toOrderView(order: OrderRecord): OrderView {
  return {
    id: order.id,
    userId: order.userId,
    status: order.status,
    currency: order.currency,
    total: fromCents(Number(order.totalCents)),
    cancelReason: order.cancelReason,
    items: order.items.map((i) => ({
      sku: i.sku,
      quantity: i.quantity,
      unitPrice: fromCents(i.unitPriceCents),
    })),
    history: order.history.map((e) => ({
      type: e.type,
      fromStatus: e.fromStatus,
      toStatus: e.toStatus,
      reason: e.reason,
      detail: e.detail,
      occurredAt: e.occurredAt.toISOString(),
    })),
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}

/** The order with its items and history, or null. */
export async function readOrder(db: Pick<Tx, 'order'>, id: string): Promise<OrderView | null> {
  const order = await db.order.findUnique({ where: { id }, include: ORDER_WITH_HISTORY });
  return order && toOrderView(order);
}
