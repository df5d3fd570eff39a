import { Module } from '@nestjs/common';
import { OrderEligibilityHandler } from './order-eligibility';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

@Module({
  controllers: [UsersController],
  providers: [UsersService, OrderEligibilityHandler],
  exports: [OrderEligibilityHandler],
})
export class UsersModule {}
