/**
 * The OpenAPI documents tell the truth: schemathesis (a schema-driven fuzzer) runs against each of
 * the three running services with every check on (response schemas, status codes and headers,
 * invalid input refused, valid input accepted, 405 with Allow for undeclared methods, no 5xx)
 * and the test fails on any finding. Bounded: WARREN_CONTRACT_EXAMPLES cases per operation and
 * phase (default 20), WARREN_CONTRACT_SECONDS per service (default 60, the three run at once);
 * the seed is fixed (WARREN_CONTRACT_SEED) so a finding can be replayed.
 * About 2-3 minutes warm; the first run on a machine also installs schemathesis (about a minute).
 */
import { startIsolatedPlatform, type IsolatedPlatform } from '../src';
import { ensureSchemathesis, fuzzService, type FuzzLimits } from './contract/schemathesis';

let platform: IsolatedPlatform;
let schemathesis: string;

beforeAll(async () => {
  [schemathesis, platform] = await Promise.all([
    ensureSchemathesis((line) => process.stderr.write(`contract: ${line}\n`)),
    // The timeout sweeper stays out of the way: the fuzzer's orders are checked as it left them.
    startIsolatedPlatform('contract', { ORDER_TIMEOUT_MS: '600000' }),
  ]);
}, 900_000);

afterAll(async () => {
  await platform?.dispose();
}, 120_000);

function setting(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number >= 1`);
  return value;
}

const limits: FuzzLimits = {
  maxExamples: setting('WARREN_CONTRACT_EXAMPLES', 20),
  maxSeconds: setting('WARREN_CONTRACT_SECONDS', 60),
  seed: setting('WARREN_CONTRACT_SEED', 14),
};

it('each service answers exactly as its OpenAPI document says', async () => {
  const runs = await Promise.all(
    Object.values(platform.services).map(async (service) => ({
      service: service.name,
      ...(await fuzzService(schemathesis, service.url, limits)),
    })),
  );
  const failed = runs.filter((run) => run.code !== 0);
  for (const run of failed) {
    process.stderr.write(
      `\n===== ${run.service}: schemathesis exit ${run.code} =====\n${run.output}\n`,
    );
  }
  expect(failed.map((run) => run.service)).toEqual([]);
}, 600_000);
