import { orderEligibility } from '../src/users/order-eligibility';

describe('orderEligibility', () => {
  it('allows an existing user who is not blocked, and says why otherwise', () => {
    expect(orderEligibility({ blocked: false })).toEqual({ allowed: true });
    expect(orderEligibility({ blocked: true })).toEqual({ allowed: false, reason: 'user-blocked' });
    expect(orderEligibility(null)).toEqual({ allowed: false, reason: 'user-not-found' });
  });
});
