import type { EventType } from '@warren/contracts';
import { HANDLE_EVENT_METADATA } from './tokens';

/**
 * Marks a provider method as the handler of one event type. The method receives the validated
 * event and the handler context (`ctx.tx` is the transaction the inbox row is written in).
 */
export function HandleEvent(type: EventType): MethodDecorator {
  return (_target, _key, descriptor) => {
    Reflect.defineMetadata(HANDLE_EVENT_METADATA, type, descriptor.value as object);
    return descriptor;
  };
}
