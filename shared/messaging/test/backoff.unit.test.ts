import { Backoff, sleep } from '../src';

describe('Backoff', () => {
  it('grows exponentially within the jitter band, caps at the maximum and resets', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0.2 });
    const delays = Array.from({ length: 6 }, () => backoff.next());
    const bases = [100, 200, 400, 800, 1000, 1000];
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(bases[i]);
      expect(delay).toBeLessThanOrEqual(Math.min(1000, bases[i] * 1.2));
    });
    backoff.reset();
    expect(backoff.next()).toBeLessThanOrEqual(120);
  });

  it('sleep ends early when its signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    await sleep(10_000, controller.signal);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
