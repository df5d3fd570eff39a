import { backoffDelayMs } from '../src/util/backoff';

describe('backoffDelayMs', () => {
  it.each([
    [0, 500],
    [1, 500],
    [2, 1_000],
    [3, 2_000],
    [10, 256_000],
    [11, 300_000],
    [10_000, 300_000],
  ])('after %i failures: %i ms (base 500 ms, at most 5 min)', (failures, delay) => {
    expect(backoffDelayMs(failures, 500, 300_000)).toBe(delay);
  });
});
