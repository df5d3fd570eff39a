import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { configureServiceApp, MessagingNotWiredOutbox } from '@warren/service-kit';
import { AppModule, SERVICE_NAME } from './app.module';
import { readConfig } from './config';

async function main(): Promise<void> {
  const config = readConfig();
  const app = await NestFactory.create(AppModule.forRoot({ databaseUrl: config.databaseUrl, outbox: new MessagingNotWiredOutbox() }), {
    bodyParser: false,
    bufferLogs: true,
  });
  configureServiceApp(app, {
    name: SERVICE_NAME,
    description: 'Registers users and decides, in the order saga, whether a user may order.',
    version: '0.1.0',
  });
  await app.listen(config.port, process.env.HOST ?? '0.0.0.0');
}

void main();
