import { randomUUID } from 'node:crypto';
import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import {
  OUTBOX,
  runIdempotently,
  SqlTransactions,
  type IdempotentAnswer,
  type SqlTx,
  type TransactionalOutbox,
} from '@warren/service-kit';
import { PrismaService } from '../database/prisma.service';
import { DEFAULT_CURRENCY, orderTotalCents, toCents } from './order-rules';
import { OrderSaga } from './order-saga';
import { readOrder, toOrderView, type OrderRecord } from './order-view';
import type { CreateOrderDto, OrderView } from './order.dto';

/**
 * The order, its items, its first history row and its order.created outbox row (parameters from
 * $9) in one statement: one round trip, atomic without BEGIN/COMMIT. The id is made here, the
 * items travel as arrays. Foreign keys are checked at the statement's end.
 */
const INSERT_ORDER = (outboxRow: string) => `WITH o AS (
  INSERT INTO orders (id, user_id, currency, total_cents, updated_at)
  VALUES ($1::uuid, $2, $3, $4::bigint, CURRENT_TIMESTAMP)
  RETURNING created_at, updated_at
), i AS (
  INSERT INTO order_items (id, order_id, position, sku, quantity, unit_price_cents)
  SELECT gen_random_uuid(), $1::uuid, t.position, t.sku, t.quantity, t.cents
  FROM unnest($5::int[], $6::text[], $7::int[], $8::int[]) AS t(position, sku, quantity, cents)
), h AS (
  INSERT INTO order_events (order_id, type, to_status) VALUES ($1::uuid, 'order.created', 'PENDING')
  RETURNING occurred_at
), event AS (${outboxRow})
SELECT o.created_at AS "createdAt", o.updated_at AS "updatedAt", h.occurred_at AS "occurredAt"
FROM o, h`;

@Injectable()
export class OrdersService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly sql: SqlTransactions,
    private readonly saga: OrderSaga,
    @Inject(OUTBOX) private readonly outbox: TransactionalOutbox<SqlTx>,
  ) {}

  /**
   * Creates a PENDING order with its first history row and emits order.created: the saga starts.
   * The user is not looked up here; user-service answers through the saga. One statement without
   * an Idempotency-Key; with one, that statement inside the key's transaction.
   */
  create(
    dto: CreateOrderDto,
    idempotencyKey: string | undefined,
  ): Promise<IdempotentAnswer<OrderView>> {
    return runIdempotently(
      this.sql,
      { key: idempotencyKey, scope: 'POST /orders', body: dto, oneStatement: true },
      async (db) => {
        const id = randomUUID();
        const items = dto.items.map((item) => ({
          sku: item.sku,
          quantity: item.quantity,
          unitPriceCents: toCents(item.unitPrice),
        }));
        const currency = dto.currency ?? DEFAULT_CURRENCY;
        const totalCents = orderTotalCents(items);
        const event = this.outbox.rowStatement(
          {
            type: 'order.created',
            payload: { orderId: id, userId: dto.userId, items, totalCents, currency },
            aggregateKey: id,
          },
          9,
        );
        const [row] = await db.$queryRawUnsafe<
          { createdAt: Date; updatedAt: Date; occurredAt: Date }[]
        >(
          INSERT_ORDER(event.sql),
          id,
          dto.userId,
          currency,
          totalCents,
          items.map((_, position) => position),
          items.map((item) => item.sku),
          items.map((item) => item.quantity),
          items.map((item) => item.unitPriceCents),
          ...event.values,
        );
        const order: OrderRecord = {
          id,
          userId: dto.userId,
          status: 'PENDING',
          currency,
          totalCents,
          cancelReason: null,
          createdAt: row!.createdAt,
          updatedAt: row!.updatedAt,
          items,
          history: [
            {
              type: 'order.created',
              fromStatus: null,
              toStatus: 'PENDING',
              reason: null,
              detail: null,
              occurredAt: row!.occurredAt,
            },
          ],
        };
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
