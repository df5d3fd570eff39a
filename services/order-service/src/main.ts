import 'reflect-metadata';
import { databaseUrlFrom, integerFrom, MessagingNotWiredOutbox, runService } from '@warren/service-kit';
import { AppModule, SERVICE } from './app.module';

void runService(
  AppModule.forRoot({
    databaseUrl: databaseUrlFrom(process.env),
    outbox: new MessagingNotWiredOutbox(),
    timeouts: {
      timeoutMs: integerFrom(process.env, 'ORDER_TIMEOUT_MS', 30_000, 1),
      sweepIntervalMs: integerFrom(process.env, 'ORDER_SWEEP_INTERVAL_MS', 1_000),
    },
  }),
  SERVICE,
  integerFrom(process.env, 'PORT', 3002, 0, 65535),
);
