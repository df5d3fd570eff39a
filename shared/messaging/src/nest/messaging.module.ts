import {
  Module,
  RequestMethod,
  type DynamicModule,
  type InjectionToken,
  type MiddlewareConsumer,
  type ModuleMetadata,
  type NestModule,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Outbox, WarrenMessaging, type WarrenMessagingOptions } from '../core';
import { CorrelationIdMiddleware } from './correlation.middleware';
import { MessagingHealthIndicator } from './messaging.health';
import { MessagingLifecycle } from './messaging.lifecycle';
import { WARREN_LOGGER, WARREN_MESSAGING_OPTIONS } from './tokens';

export interface WarrenMessagingModuleAsyncOptions<Tx> {
  imports?: ModuleMetadata['imports'];
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  useFactory: (
    ...args: never[]
  ) => WarrenMessagingOptions<Tx> | Promise<WarrenMessagingOptions<Tx>>;
}

const exported: Provider[] = [
  {
    provide: WarrenMessaging,
    inject: [WARREN_MESSAGING_OPTIONS],
    useFactory: (options: WarrenMessagingOptions<unknown>) => new WarrenMessaging(options),
  },
  {
    provide: Outbox,
    inject: [WarrenMessaging],
    useFactory: (m: WarrenMessaging<unknown>) => m.outbox,
  },
  {
    provide: WARREN_LOGGER,
    inject: [WarrenMessaging],
    useFactory: (m: WarrenMessaging<unknown>) => m.logger,
  },
  MessagingHealthIndicator,
];

/**
 * The Nest face of the messaging core: provides WarrenMessaging, Outbox, the logger and the
 * health indicator; wires @HandleEvent methods; starts on bootstrap and stops on shutdown;
 * applies the correlation-id middleware to every route.
 */
@Module({})
export class WarrenMessagingModule implements NestModule {
  static forRoot<Tx>(options: WarrenMessagingOptions<Tx>): DynamicModule {
    return WarrenMessagingModule.forRootAsync({ useFactory: () => options });
  }

  static forRootAsync<Tx>(options: WarrenMessagingModuleAsyncOptions<Tx>): DynamicModule {
    return {
      module: WarrenMessagingModule,
      global: true,
      imports: [DiscoveryModule, ...(options.imports ?? [])],
      providers: [
        {
          provide: WARREN_MESSAGING_OPTIONS,
          inject: options.inject ?? [],
          useFactory: options.useFactory,
        },
        ...exported,
        MessagingLifecycle,
        CorrelationIdMiddleware,
      ],
      exports: [...exported.map((p) => ('provide' in p ? p.provide : p)), CorrelationIdMiddleware],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(CorrelationIdMiddleware).forRoutes({ path: '*', method: RequestMethod.ALL });
  }
}
