import { Body, Controller, Get, Headers, Param, Post, Res } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { answerWith, ApiUuidParam, IDEMPOTENCY_HEADER, uuidParam } from '@warren/service-kit';
import type { Response } from 'express';
import { CreateOrderDto, OrderView } from './order.dto';
import { OrdersService } from './orders.service';

const idempotencyHeader = ApiHeader({
  name: IDEMPOTENCY_HEADER,
  required: false,
  description: 'Repeats with the same key get the first answer and change nothing',
});

@ApiTags('orders')
@Controller('orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @idempotencyHeader
  @ApiCreatedResponse({
    type: OrderView,
    description: 'PENDING: the saga decides CONFIRMED or CANCELLED',
  })
  async create(
    @Body() dto: CreateOrderDto,
    @Headers(IDEMPOTENCY_HEADER) idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OrderView> {
    return answerWith(res, await this.orders.create(dto, idempotencyKey));
  }

  @Get(':id')
  @ApiUuidParam('id')
  @ApiOkResponse({
    type: OrderView,
    description: 'The order with its items and the history of its transitions',
  })
  @ApiNotFoundResponse({ description: 'No order with this id' })
  get(@Param('id', uuidParam('id')) id: string): Promise<OrderView> {
    return this.orders.get(id);
  }

  @Post(':id/cancel')
  @idempotencyHeader
  @ApiUuidParam('id')
  @ApiOkResponse({ type: OrderView, description: 'CANCELLED (reason client-cancelled)' })
  @ApiNotFoundResponse({ description: 'No order with this id' })
  @ApiConflictResponse({ description: 'The order is no longer PENDING' })
  async cancel(
    @Param('id', uuidParam('id')) id: string,
    @Headers(IDEMPOTENCY_HEADER) idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OrderView> {
    return answerWith(res, await this.orders.cancel(id, idempotencyKey));
  }
}
