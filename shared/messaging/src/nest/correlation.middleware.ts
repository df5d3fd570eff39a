import { Injectable, type NestMiddleware } from '@nestjs/common';
import { correlationMiddleware } from '../core';

/** The core's correlation middleware as a Nest middleware (the module applies it to every route). */
@Injectable()
export class CorrelationIdMiddleware implements NestMiddleware {
  use(...args: Parameters<typeof correlationMiddleware>): void {
    correlationMiddleware(...args);
  }
}
