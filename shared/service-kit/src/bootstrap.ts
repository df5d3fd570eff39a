import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { configureServiceApp, type ServiceDescription } from './service-app';

/** Starts a service as main.ts does in production: configured app, listening on HOST:port. */
export async function runService(
  root: DynamicModule,
  service: ServiceDescription,
  port: number,
): Promise<void> {
  const app = await NestFactory.create(root, { bodyParser: false, bufferLogs: true });
  configureServiceApp(app, service);
  await app.listen(port, process.env.HOST ?? '0.0.0.0');
}
