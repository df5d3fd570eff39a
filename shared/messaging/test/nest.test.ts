import 'reflect-metadata';
import { Controller, Inject, Injectable, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { PoolClient } from 'pg';
import type { EventEnvelope } from '@warren/contracts';
import {
  CORRELATION_HEADER,
  createLogger,
  Outbox,
  currentCorrelation,
  pgTransactions,
  runWithCorrelation,
  type HandlerContext,
} from '../src';
import {
  CorrelationIdMiddleware,
  HandleEvent,
  MessagingHealthIndicator,
  WarrenMessagingModule,
} from '../src/nest';
import { declareTopology, testTopology } from './support/topology';
import { orderPayload, suiteServers, testLogger, type SuiteServers } from './support/suite';
import { eventually } from '@warren/testing';

describe('WarrenMessagingModule (NestJS)', () => {
  let servers: SuiteServers;

  beforeAll(async () => {
    servers = await suiteServers('messaging_nest');
  }, 120_000);

  afterAll(async () => {
    await servers?.dispose();
  });

  it('wires @HandleEvent methods, publishes through the Outbox provider, reports health and shuts down', async () => {
    const topology = testTopology('nest', { vhost: servers.vhost.vhost });
    await declareTopology(servers.vhost.amqpUrl, topology);
    const seen: { event: EventEnvelope<'user.created'>; correlationId?: string }[] = [];

    @Injectable()
    class WelcomeHandler {
      @HandleEvent('user.created')
      async onUserCreated(event: EventEnvelope<'user.created'>, ctx: HandlerContext<PoolClient>) {
        await ctx.tx.query('INSERT INTO effects (event_id, note) VALUES ($1, $2)', [
          event.id,
          'welcome',
        ]);
        seen.push({ event, correlationId: currentCorrelation()?.correlationId });
      }
    }

    @Module({
      imports: [
        WarrenMessagingModule.forRootAsync<PoolClient>({
          useFactory: () => ({
            service: 'nest',
            topology,
            amqpUrl: servers.vhost.amqpUrl,
            databaseUrl: servers.database.url,
            transactions: pgTransactions(servers.pool),
            logger: testLogger,
          }),
        }),
      ],
      providers: [WelcomeHandler],
    })
    class AppModule {}

    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    await app.init();
    expect(app.get(MessagingHealthIndicator).check()).toMatchObject({ ready: true });

    const outbox = app.get(Outbox);
    const client = await servers.pool.connect();
    await runWithCorrelation({ correlationId: 'from-http' }, async () => {
      await client.query('BEGIN');
      await outbox.enqueue(client, 'user.created', {
        userId: 'u1',
        email: 'ann@example.com',
        name: 'Ann',
      });
      await client.query('COMMIT');
    });
    client.release();

    await eventually('the handler', async () => (seen.length === 1 ? true : undefined));
    expect(seen[0].event.payload.email).toBe('ann@example.com');
    expect(seen[0].event.correlationId).toBe('from-http');
    expect(seen[0].correlationId).toBe('from-http');

    await app.close();
    expect(app.get(MessagingHealthIndicator).check()).toMatchObject({
      ready: false,
      broker: 'disconnected',
    });
  });

  it('carries the correlation id from the HTTP header through the outbox and the message to the handler and its log lines', async () => {
    const topology = testTopology('http', { vhost: servers.vhost.vhost });
    await declareTopology(servers.vhost.amqpUrl, topology);
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger(
      'http',
      { level: 'info' },
      {
        write: (line: string) => void lines.push(JSON.parse(line)),
      },
    );
    const handled: { correlationId: string; causationId: string | null }[] = [];

    @Injectable()
    class OrderHandler {
      @HandleEvent('order.created')
      async onOrderCreated(event: EventEnvelope<'order.created'>, ctx: HandlerContext<PoolClient>) {
        ctx.logger.info('order seen');
        handled.push({ correlationId: event.correlationId, causationId: event.causationId });
      }
    }

    @Controller('orders')
    class OrdersController {
      constructor(@Inject(Outbox) private readonly outbox: Outbox) {}

      @Post()
      async create(): Promise<{ correlationId?: string }> {
        const client = await servers.pool.connect();
        try {
          await client.query('BEGIN');
          await this.outbox.enqueue(client, 'order.created', orderPayload('http-1'));
          await client.query('COMMIT');
        } finally {
          client.release();
        }
        return { correlationId: currentCorrelation()?.correlationId };
      }
    }

    @Module({
      imports: [
        WarrenMessagingModule.forRoot<PoolClient>({
          service: 'http',
          topology,
          amqpUrl: servers.vhost.amqpUrl,
          databaseUrl: servers.database.url,
          transactions: pgTransactions(servers.pool),
          logger,
        }),
      ],
      controllers: [OrdersController],
      providers: [OrderHandler],
    })
    class HttpModule {}

    const app = await NestFactory.create(HttpModule, { logger: false });
    app.enableShutdownHooks();
    await app.listen(0, '127.0.0.1');
    try {
      const response = await fetch(`${await app.getUrl()}/orders`, {
        method: 'POST',
        headers: { [CORRELATION_HEADER]: 'req-42' },
      });
      expect(response.status).toBe(201);
      expect(response.headers.get(CORRELATION_HEADER)).toBe('req-42');
      expect(await response.json()).toEqual({ correlationId: 'req-42' });
      await eventually('the handler', async () => (handled.length === 1 ? true : undefined));
      expect(handled[0]).toEqual({ correlationId: 'req-42', causationId: null });
      const seen = lines.find((line) => line.msg === 'order seen');
      expect(seen).toMatchObject({
        service: 'http',
        correlationId: 'req-42',
        eventType: 'order.created',
      });
    } finally {
      await app.close();
    }
  });

  it('correlation middleware adopts a sane header, echoes it and exposes it to the request', () => {
    const middleware = new CorrelationIdMiddleware();
    const headers: Record<string, string> = {};
    let inside: string | undefined;
    middleware.use(
      { headers: { [CORRELATION_HEADER]: 'abc-123' } },
      { setHeader: (k, v) => (headers[k] = v) },
      () => {
        inside = currentCorrelation()?.correlationId;
      },
    );
    expect(inside).toBe('abc-123');
    expect(headers[CORRELATION_HEADER]).toBe('abc-123');
    middleware.use(
      { headers: { [CORRELATION_HEADER]: 'bad value with spaces' } },
      { setHeader: (k, v) => (headers[k] = v) },
      () => {
        inside = currentCorrelation()?.correlationId;
      },
    );
    expect(inside).toMatch(/^[0-9a-f-]{36}$/);
  });
});
