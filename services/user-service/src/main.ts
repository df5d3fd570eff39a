import 'reflect-metadata';
import { databaseUrlFrom, integerFrom, MessagingNotWiredOutbox, runService } from '@warren/service-kit';
import { AppModule, SERVICE } from './app.module';

void runService(
  AppModule.forRoot({ databaseUrl: databaseUrlFrom(process.env), outbox: new MessagingNotWiredOutbox() }),
  SERVICE,
  integerFrom(process.env, 'PORT', 3001, 0, 65535),
);
