import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { EventType } from '@warren/contracts';
import { WarrenMessaging, type EventHandler } from '../core';
import { HANDLE_EVENT_METADATA } from './tokens';

/**
 * Registers every @HandleEvent method, then starts the module (topology check, relay,
 * consumers) when the application boots; stops it, in-flight work first, on shutdown
 * (`app.enableShutdownHooks()` makes SIGTERM reach it).
 */
@Injectable()
export class MessagingLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(WarrenMessaging) private readonly messaging: WarrenMessaging<unknown>,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || wrapper.isNotMetatype) continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const method = instance[name] as (...args: unknown[]) => Promise<void>;
        const type = Reflect.getMetadata(HANDLE_EVENT_METADATA, method) as EventType | undefined;
        if (type) this.messaging.handlers.on(type, method.bind(instance) as EventHandler<unknown>);
      }
    }
    await this.messaging.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.messaging.stop();
  }
}
