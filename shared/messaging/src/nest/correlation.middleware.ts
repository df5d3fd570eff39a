import { Injectable, type NestMiddleware } from '@nestjs/common';
import { CORRELATION_HEADER, correlationIdFromHeader, runWithCorrelation } from '../core';

interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
}
interface ResponseLike {
  setHeader(name: string, value: string): void;
}

/**
 * Takes the correlation id from the request header (or starts one), echoes it in the response
 * and runs the rest of the request in its async context, so the outbox and the logs see it.
 */
@Injectable()
export class CorrelationIdMiddleware implements NestMiddleware {
  use(request: RequestLike, response: ResponseLike, next: () => void): void {
    const correlationId = correlationIdFromHeader(request.headers[CORRELATION_HEADER]);
    response.setHeader(CORRELATION_HEADER, correlationId);
    runWithCorrelation({ correlationId }, next);
  }
}
