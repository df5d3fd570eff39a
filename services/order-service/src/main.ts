import 'reflect-metadata';
import { databaseUrlFrom, integerFrom, runService } from '@warren/service-kit';
import { AppModule, SERVICE } from './app.module';

void runService({
  module: (thread) =>
    AppModule.forRoot({
      databaseUrl: databaseUrlFrom(process.env),
      // Topology document from $WARREN_TOPOLOGY_FILE, broker credentials from $RABBITMQ_URL.
      messaging: { kind: 'broker', thread },
      timeouts: {
        timeoutMs: integerFrom(process.env, 'ORDER_TIMEOUT_MS', 30_000, 1),
        sweepIntervalMs: integerFrom(process.env, 'ORDER_SWEEP_INTERVAL_MS', 1_000),
      },
    }),
  service: SERVICE,
  port: integerFrom(process.env, 'PORT', 3002, 0, 65535),
  entry: __filename,
});
