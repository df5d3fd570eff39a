import { MAX_PERMISSION_PATTERN, exactly } from '../src/naming';

/** The names of a service with `routes` consumer queues, as the compiler derives them. */
function serviceQueues(service: string, routes: number): string[] {
  return Array.from({ length: routes }, (_, i) => `${service}.order-lifecycle-route-${i}`).flatMap(
    (queue) => [queue, `${queue}.dlq`, `${queue}.retry.1s`, `${queue}.retry.30s`],
  );
}

describe('exactly: permission patterns', () => {
  it('is a plain alternation while it fits', () => {
    expect(exactly([])).toBe('^$');
    expect(exactly(['user.events'])).toBe('^user\\.events$');
    expect(exactly(['b.q', 'a.q', 'a.q'])).toBe('^(a\\.q|b\\.q)$');
  });

  it('stays exact and within what RabbitMQ takes for a service with tens of routes', () => {
    const names = serviceQueues('notification-service', 40);
    const flat = `^(${names.join('|')})$`;
    expect(flat.length).toBeGreaterThan(MAX_PERMISSION_PATTERN * 4);
    const pattern = exactly(names);
    expect(pattern.length).toBeLessThanOrEqual(MAX_PERMISSION_PATTERN);
    const regex = new RegExp(pattern);
    for (const name of names) expect(regex.test(name)).toBe(true);
    const others = [
      'notification-service',
      'notification-service.order-lifecycle-route-40',
      'notification-service.order-lifecycle-route-1.dlq.x',
      'notification-service.order-lifecycle-route-',
      'other-service.order-lifecycle-route-1',
      'notification-serviceXorder-lifecycle-route-1',
      `${names[0]}x`,
      '',
    ];
    for (const name of others) expect(regex.test(name)).toBe(false);
  });

  it("beyond what RabbitMQ takes even factored (hundreds of routes): the service's own prefix", () => {
    // 5,000 and 10,000 routes over 25 consumers (bench/operator.ts): every 25th is this service's.
    for (const routes of [5000, 10_000]) {
      const names = Array.from(
        { length: routes / 25 },
        (_, i) => `notification-service.route-${i * 25}`,
      ).flatMap((queue) => [queue, `${queue}.dlx`, `${queue}.retry`]);
      const pattern = exactly(names);
      expect(pattern.length).toBeLessThanOrEqual(MAX_PERMISSION_PATTERN);
      const regex = new RegExp(pattern);
      for (const name of names) expect(regex.test(name)).toBe(true);
      expect(regex.test('other-service.route-1')).toBe(false);
      expect(regex.test('notification-service')).toBe(false);
      if (routes === 10_000) expect(pattern).toBe('^notification\\-service\\.');
    }
  });

  it('keeps the factored pattern when the names share no dotted prefix', () => {
    const names = Array.from({ length: 300 }, (_, i) => `svc-${i}.queue-${i}`);
    expect(exactly(names).length).toBeGreaterThan(MAX_PERMISSION_PATTERN);
    expect(exactly(names).endsWith('$')).toBe(true);
  });
});
