import type { EventEnvelope, EventType, PayloadOf } from '@warren/contracts';
import type { EnqueueOptions } from '../outbox/outbox';
import type { Logger } from '../logger';

export interface HandlerContext<Tx> {
  /** The transaction the inbox row is written in: do the handler's writes with it. */
  tx: Tx;
  queue: string;
  /** 1 on first delivery. */
  attempt: number;
  logger: Logger;
  /** Writes a follow-up event to the outbox in the same transaction (caused by this event). */
  publish<T extends EventType>(
    type: T,
    payload: PayloadOf<T>,
    options?: EnqueueOptions,
  ): Promise<EventEnvelope<T>>;
}

export type EventHandler<Tx, T extends EventType = EventType> = (
  event: EventEnvelope<T>,
  context: HandlerContext<Tx>,
) => Promise<void>;

/** Handlers by event type; one handler per type and service. */
export class HandlerRegistry<Tx> {
  private readonly handlers = new Map<string, EventHandler<Tx>>();

  on<T extends EventType>(type: T, handler: EventHandler<Tx, T>): this {
    if (this.handlers.has(type)) throw new Error(`a handler for "${type}" is already registered`);
    this.handlers.set(type, handler as unknown as EventHandler<Tx>);
    return this;
  }

  get(type: string): EventHandler<Tx> | undefined {
    return this.handlers.get(type);
  }

  get types(): string[] {
    return [...this.handlers.keys()];
  }
}
