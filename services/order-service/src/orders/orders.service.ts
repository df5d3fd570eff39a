import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import {
  OUTBOX,
  runIdempotently,
  type IdempotentAnswer,
  type TransactionalOutbox,
} from '@warren/service-kit';
import { PrismaService, type Tx } from '../database/prisma.service';
import { DEFAULT_CURRENCY, orderTotalCents, toCents } from './order-rules';
import { OrderSaga } from './order-saga';
import { ORDER_WITH_HISTORY, readOrder, toOrderView } from './order-view';
import type { CreateOrderDto, OrderView } from './order.dto';

@Injectable()
export class OrdersService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly saga: OrderSaga,
    @Inject(OUTBOX) private readonly outbox: TransactionalOutbox<Tx>,
  ) {}

  /**
   * Creates a PENDING order with its first history row and emits order.created: the saga starts.
   * The user is not looked up here; user-service answers through the saga.
   */
  create(
    dto: CreateOrderDto,
    idempotencyKey: string | undefined,
  ): Promise<IdempotentAnswer<OrderView>> {
    return runIdempotently(
      this.prisma,
      { key: idempotencyKey, scope: 'POST /orders', body: dto },
      async (tx) => {
        const items = dto.items.map((item, position) => ({
          position,
          sku: item.sku,
          quantity: item.quantity,
          unitPriceCents: toCents(item.unitPrice),
        }));
        const order = await tx.order.create({
          data: {
            userId: dto.userId,
            currency: dto.currency ?? DEFAULT_CURRENCY,
            totalCents: orderTotalCents(items),
            items: { create: items },
            history: { create: { type: 'order.created', toStatus: 'PENDING' } },
          },
          include: ORDER_WITH_HISTORY,
        });
        await this.outbox.append(tx, {
          type: 'order.created',
          payload: {
            orderId: order.id,
            userId: order.userId,
            items: items.map(({ sku, quantity, unitPriceCents }) => ({
              sku,
              quantity,
              unitPriceCents,
            })),
            totalCents: order.totalCents,
            currency: order.currency,
          },
          aggregateKey: order.id,
        });
        return { status: 201, body: toOrderView(order) };
      },
    );
  }

  async get(id: string): Promise<OrderView> {
    const order = await readOrder(this.prisma, id);
    if (!order) throw new NotFoundException(`order ${id} does not exist`);
    return order;
  }

  /** The client's cancel: only a PENDING order can be cancelled (409 otherwise). */
  cancel(id: string, idempotencyKey: string | undefined): Promise<IdempotentAnswer<OrderView>> {
    return runIdempotently(
      this.prisma,
      { key: idempotencyKey, scope: `POST /orders/${id}/cancel`, body: null },
      async (tx) => {
        const outcome = await this.saga.cancel(tx, id, 'client-cancelled');
        if (outcome.status === null) throw new NotFoundException(`order ${id} does not exist`);
        if (!outcome.changed) {
          throw new ConflictException(
            `order ${id} is ${outcome.status}; only PENDING orders can be cancelled`,
          );
        }
        return { status: 200, body: (await readOrder(tx, id))! };
      },
    );
  }
}
