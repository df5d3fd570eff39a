import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Logger } from 'pino';
import { ReadinessChecks } from './health';
import { NestJsonLogger } from './logger';
import { serveHttpThread, serviceThreadFrom, type ServiceThread } from './messaging-thread';
import { ServiceMetrics } from './metrics';
import { configureServiceApp, SERVICE_LOGGER, type ServiceDescription } from './service-app';

export interface ServiceMain {
  /** The root module of this thread's part of the service (see `ServiceThread`). */
  module(thread: ServiceThread): DynamicModule;
  service: ServiceDescription;
  port: number;
  /** The service's main file (`__filename`): the messaging worker runs it again. */
  entry: string;
}

/**
 * Starts a service as main.ts does in production: the app on HOST:port. With MESSAGING_WORKER=true
 * that app serves HTTP only and starts the messaging worker, which runs this same file and lands
 * in the branch below: a Nest application context (no HTTP) with the relay, the consumers and the
 * background work.
 */
export async function runService(main: ServiceMain): Promise<void> {
  const thread = serviceThreadFrom(process.env, main.entry);
  if (thread.role === 'messaging') {
    const context = await NestFactory.createApplicationContext(main.module(thread), {
      bufferLogs: true,
    });
    const logger = context.get<Logger>(SERVICE_LOGGER);
    context.useLogger(new NestJsonLogger(logger));
    const readiness = context.get(ReadinessChecks);
    serveHttpThread(context, {
      metrics: () => context.get(ServiceMetrics).registry.getMetricsAsJSON(),
      readiness: (names) => readiness.run(names),
      checkNames: () => readiness.names(),
      flushLogs: () => logger.flush(),
    });
    return;
  }
  const app = await NestFactory.create(main.module(thread), {
    bodyParser: false,
    bufferLogs: true,
  });
  configureServiceApp(app, main.service);
  await app.listen(main.port, process.env.HOST ?? '0.0.0.0');
}
