import 'reflect-metadata';
import { databaseUrlFrom, integerFrom, runService } from '@warren/service-kit';
import { AppModule, SERVICE } from './app.module';

// Topology document from $WARREN_TOPOLOGY_FILE, broker credentials from $RABBITMQ_URL.
void runService({
  module: (thread) =>
    AppModule.forRoot({
      databaseUrl: databaseUrlFrom(process.env),
      messaging: { kind: 'broker', thread },
    }),
  service: SERVICE,
  port: integerFrom(process.env, 'PORT', 3003, 0, 65535),
  entry: __filename,
});
