import type { Prisma } from '../generated/prisma/client';
import type { Tx } from '../database/prisma.service';
import { fromCents } from './order-rules';
import type { OrderView } from './order.dto';

export const ORDER_WITH_HISTORY = {
  items: { orderBy: { position: 'asc' } },
  history: { orderBy: { id: 'asc' } },
} as const satisfies Prisma.OrderInclude;

type OrderWithHistory = Prisma.OrderGetPayload<{ include: typeof ORDER_WITH_HISTORY }>;

export function toOrderView(order: OrderWithHistory): OrderView {
  return {
    id: order.id,
    userId: order.userId,
    status: order.status,
    currency: order.currency,
    total: fromCents(order.totalCents),
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
