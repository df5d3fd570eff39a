import { orderCancelled, orderConfirmed, welcome } from '../src/notifications/compose';

describe('notification texts', () => {
  it('says what happened, with the amount and the reason in words', () => {
    expect(welcome({ userId: 'u', email: 'ada@example.com', name: 'Ada' })).toEqual({
      userId: 'u',
      kind: 'welcome',
      subject: 'Welcome, Ada',
      body: 'Hello Ada, your account ada@example.com is ready.',
      orderId: null,
    });
    expect(
      orderConfirmed({ orderId: 'o', userId: 'u', totalCents: 1050, currency: 'EUR' }).body,
    ).toBe('Your order o is confirmed. Total: 10.50 EUR.');
    expect(orderCancelled({ orderId: 'o', userId: 'u', reason: 'user-rejected' }).body).toBe(
      'Your order o was cancelled: your account may not place orders.',
    );
  });
});
