import { fromCents, orderTotalCents, pendingCutoff, toCents } from '../src/orders/order-rules';

describe('order rules', () => {
  it('converts prices to whole cents without float drift and sums quantity × price', () => {
    expect(toCents(0.29)).toBe(29);
    expect(toCents(19.99)).toBe(1999);
    expect(
      orderTotalCents([
        { quantity: 3, unitPriceCents: 1999 },
        { quantity: 1, unitPriceCents: 1 },
      ]),
    ).toBe(5998);
    expect(fromCents(5998)).toBe(59.98);
  });

  it('times PENDING orders out after the configured wait', () => {
    expect(pendingCutoff(new Date('2026-01-01T00:01:00Z'), 60_000)).toEqual(
      new Date('2026-01-01T00:00:00Z'),
    );
  });
});
