import { randomUUID } from 'node:crypto';
import { ContractError, createEvent, EVENT_TYPES, parseEvent } from '../src';

const base = {
  id: randomUUID(),
  version: 1,
  occurredAt: '2026-01-01T00:00:00.000Z',
  correlationId: 'corr-1',
  causationId: null,
  source: 'order-service',
};

function issuesOf(value: unknown): string[] {
  try {
    parseEvent(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ContractError);
    return (error as ContractError).issues.map((i) => i.path);
  }
  throw new Error('expected a ContractError');
}

describe('event contracts', () => {
  it('covers every event of the order saga', () => {
    expect(EVENT_TYPES.sort()).toEqual(
      [
        'order.cancelled',
        'order.confirmed',
        'order.created',
        'user.created',
        'user.rejected',
        'user.validated',
      ].sort(),
    );
  });

  it('builds and parses a valid event', () => {
    const event = createEvent(
      'order.created',
      {
        orderId: 'o1',
        userId: 'u1',
        items: [{ sku: 'A', quantity: 2, unitPriceCents: 150 }],
        totalCents: 300,
        currency: 'EUR',
      },
      { source: 'order-service', correlationId: 'c1' },
    );
    expect(parseEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
    expect(event.version).toBe(1);
    expect(event.causationId).toBeNull();
  });

  it('names the offending payload field, nested paths included', () => {
    expect(
      issuesOf({
        ...base,
        type: 'order.created',
        payload: {
          orderId: 'o1',
          userId: 'u1',
          items: [{ sku: 'A', quantity: 0, unitPriceCents: 1 }],
          totalCents: 1,
          currency: 'euro',
        },
      }).sort(),
    ).toEqual(['payload.currency', 'payload.items[0].quantity']);
  });

  it('names envelope fields, unknown types and unknown versions', () => {
    expect(issuesOf({ ...base, id: 'not-a-uuid', type: 'user.created', payload: {} })).toEqual([
      'id',
    ]);
    expect(issuesOf({ ...base, type: 'user.deleted', payload: {} })).toEqual(['type']);
    expect(issuesOf({ ...base, version: 2, type: 'user.created', payload: {} })).toEqual([
      'version',
    ]);
    expect(issuesOf(null)).toEqual(['(root)']);
  });

  it('refuses to create an event whose payload breaks the contract', () => {
    expect(() =>
      createEvent(
        'user.created',
        { userId: 'u1', email: 'nope', name: 'Ann' },
        { source: 's', correlationId: 'c' },
      ),
    ).toThrow(/payload\.email/);
  });
});
