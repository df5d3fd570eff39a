import { Inject, Injectable } from '@nestjs/common';
import { WarrenMessaging, type MessagingHealth } from '../core';

/** For /readyz: ready while the broker is connected and the consumers are subscribed. */
@Injectable()
export class MessagingHealthIndicator {
  constructor(@Inject(WarrenMessaging) private readonly messaging: WarrenMessaging<unknown>) {}

  check(): MessagingHealth {
    return this.messaging.health();
  }

  /** Outbox rows waiting for the broker, for /readyz details and dashboards. */
  backlog() {
    return this.messaging.backlog();
  }
}
