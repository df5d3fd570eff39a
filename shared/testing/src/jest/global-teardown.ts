import type {} from './global-setup';

/** Stops exactly what the global setup started; servers that were already up keep running. */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__WARREN_TEST_SERVERS__?.stop();
}
