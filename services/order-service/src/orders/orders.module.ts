import { Module } from '@nestjs/common';
import { OrderSaga } from './order-saga';
import { OrderTimeoutSweeper } from './order-timeout-sweeper';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';

@Module({
  controllers: [OrdersController],
  providers: [OrdersService, OrderSaga, OrderTimeoutSweeper],
  exports: [OrderSaga, OrderTimeoutSweeper],
})
export class OrdersModule {}
