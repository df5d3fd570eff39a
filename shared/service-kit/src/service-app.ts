import { type DynamicModule, type INestApplication, Module } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { bodyParserErrors, jsonBodyParser } from './body-parsing';
import { correlationMiddleware, CORRELATION_HEADER } from './correlation';
import { HealthController, ReadinessChecks } from './health';
import { IDEMPOTENCY_HEADER } from './idempotency';
import { createJsonLogger, NestJsonLogger } from './logger';
import { MetricsController, ServiceMetrics } from './metrics';
import { completeDocument, methodNotAllowed } from './openapi';
import { loadShedding } from './load-shedding';
import type { PoolSettings } from './database-pool';
import { DATABASE_POOL, DATABASE_POOL_SETTINGS, PointReads } from './service-database';
import type { Pool } from 'pg';
import { createValidationPipe } from './validation';

export const SERVICE_LOGGER = Symbol('SERVICE_LOGGER');

/** Health, readiness, metrics and the JSON logger, for a service's root module to import. */
@Module({})
export class ServiceKitModule {
  static forRoot(serviceName: string): DynamicModule {
    return {
      module: ServiceKitModule,
      global: true,
      controllers: [HealthController, MetricsController],
      providers: [
        ReadinessChecks,
        ServiceMetrics,
        { provide: SERVICE_LOGGER, useFactory: () => createJsonLogger(serviceName) },
      ],
      exports: [ReadinessChecks, ServiceMetrics, SERVICE_LOGGER],
    };
  }
}

export interface ServiceDescription {
  name: string;
  description: string;
  version: string;
}

/**
 * Applies what every service shares to a Nest app created with `{ bodyParser: false }`:
 * correlation ids, JSON logs and access logs, request metrics, JSON bodies with clear errors,
 * strict DTO validation, the OpenAPI document (/docs, /openapi.json) and graceful shutdown.
 */
export function configureServiceApp(
  app: INestApplication,
  service: ServiceDescription,
): INestApplication {
  const logger = app.get<Logger>(SERVICE_LOGGER);
  app.useLogger(new NestJsonLogger(logger));
  const document = completeDocument(
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle(service.name)
        .setDescription(
          `${service.description}\n\nEvery response carries ${CORRELATION_HEADER} (sent or generated). ` +
            `POST endpoints honour ${IDEMPOTENCY_HEADER}. A method a path does not have is answered ` +
            '405 with `Allow`.',
        )
        .setVersion(service.version)
        .build(),
    ),
  );
  const reads = app.get(PointReads);
  app.use(correlationMiddleware);
  app.use(app.get(ServiceMetrics).middleware);
  app.use(accessLog(logger));
  app.use(methodNotAllowed(document));
  app.use(
    loadShedding(
      app.get<Pool>(DATABASE_POOL),
      app.get<PoolSettings>(DATABASE_POOL_SETTINGS),
      app.get(ServiceMetrics),
      () => reads.waiting,
    ),
  );
  app.use(jsonBodyParser);
  app.use(bodyParserErrors);
  app.useGlobalPipes(createValidationPipe());
  app.enableShutdownHooks();
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json' });
  return app;
}

function accessLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      logger.info(
        {
          correlationId: res.locals.correlationId as string,
          method: req.method,
          path: req.originalUrl,
          status: res.statusCode,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'request',
      );
    });
    next();
  };
}
