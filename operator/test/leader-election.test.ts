/**
 * The leader elector against the real API server's Leases: a lease taken over by another
 * holder, holders whose clocks disagree with ours, and an API server that stops answering.
 */
import { eventually } from '@warren/testing';
import type { KubeClient } from '../src/kube/client';
import { LeaderElector } from '../src/kube/leader-election';
import { controlPlaneForSuite } from './support/control-plane';

jest.setTimeout(120_000);

const LEASES = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
const DURATION_S = 2;
const suite = controlPlaneForSuite();

interface Lease {
  metadata: { name: string; resourceVersion?: string };
  spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}

const microTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

function elector(leaseName: string, identity: string, client = suite.admin) {
  const transitions: string[] = [];
  const elector = new LeaderElector({
    client,
    namespace: 'default',
    leaseName,
    identity,
    leaseDurationSeconds: DURATION_S,
    renewIntervalMs: 300,
    retryIntervalMs: 200,
    onStartedLeading: () => transitions.push('started'),
    onStoppedLeading: () => transitions.push('stopped'),
  });
  return { elector, transitions };
}

/** Another replica's write of the lease, with whatever renewTime its clock says. */
async function holdAs(leaseName: string, holder: string, renewTime: Date) {
  const path = `${LEASES}/${leaseName}`;
  const spec = {
    holderIdentity: holder,
    leaseDurationSeconds: DURATION_S,
    renewTime: microTime(renewTime),
  };
  const existing = await suite.admin.find<Lease>(path);
  if (existing)
    await suite.admin.replace(path, { ...existing, spec: { ...existing.spec, ...spec } });
  else
    await suite.admin.create(LEASES, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: leaseName },
      spec,
    });
}

const holderOf = async (leaseName: string) =>
  (await suite.admin.get<Lease>(`${LEASES}/${leaseName}`)).spec.holderIdentity;

it('steps down when another holder took the lease, and takes it back once that holder stops renewing', async () => {
  const a = elector('lost-lease', 'a');
  a.elector.start();
  await eventually('a leads', async () => a.elector.isLeader);

  // An intruder writes the lease (as after a partition healed) and keeps renewing it.
  let renewing = true;
  const renew = (async () => {
    while (renewing) {
      await holdAs('lost-lease', 'intruder', new Date()).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  await eventually('a to step down', async () => !a.elector.isLeader, 5_000);
  expect(a.transitions).toEqual(['started', 'stopped']);
  await new Promise((resolve) => setTimeout(resolve, DURATION_S * 1000 + 500));
  expect(a.elector.isLeader).toBe(false);

  renewing = false;
  await renew;
  await eventually('a to lead again', async () => a.elector.isLeader, 10_000);
  expect(await holderOf('lost-lease')).toBe('a');
  await a.elector.stop();
});

it.each([
  ['an hour behind', -3600_000],
  ['an hour ahead', 3600_000],
])("judges expiry by its own clock when the holder's clock is %s", async (_label, skewMs) => {
  const leaseName = `skew-${skewMs > 0 ? 'ahead' : 'behind'}`;
  // The holder wrote the lease just now, by a clock that is off by an hour, then died.
  await holdAs(leaseName, 'skewed', new Date(Date.now() + skewMs));
  const b = elector(leaseName, 'b');
  const started = Date.now();
  b.elector.start();
  // Not taken at once (a clock behind would make the lease look long expired)...
  await new Promise((resolve) => setTimeout(resolve, (DURATION_S * 1000) / 2));
  expect(b.elector.isLeader).toBe(false);
  // ...but once the record stayed unchanged for a lease duration by b's own clock
  // (a clock ahead would otherwise keep it for an hour).
  await eventually('b leads', async () => b.elector.isLeader, 10_000);
  expect(Date.now() - started).toBeGreaterThanOrEqual(DURATION_S * 1000);
  expect(Date.now() - started).toBeLessThan(DURATION_S * 1000 + 5_000);
  expect(await holderOf(leaseName)).toBe('b');
  await b.elector.stop();
});

it('stops leading on its own once it cannot renew for a lease duration', async () => {
  const real = suite.newClient();
  let unreachable = false;
  const client = Object.create(real) as KubeClient;
  const refuse = <T>(call: () => Promise<T>) =>
    unreachable ? Promise.reject(new Error('connect ECONNREFUSED (injected)')) : call();
  client.find = (path) => refuse(() => real.find(path));
  client.replace = (path, body) => refuse(() => real.replace(path, body));
  client.create = (path, body) => refuse(() => real.create(path, body));
  const c = elector('unreachable', 'c', client);
  c.elector.start();
  await eventually('c leads', async () => c.elector.isLeader);

  unreachable = true;
  const cut = Date.now();
  await eventually('c to step down', async () => !c.elector.isLeader, 10_000);
  const after = Date.now() - cut;
  expect(after).toBeGreaterThanOrEqual(DURATION_S * 1000 - 400);
  expect(after).toBeLessThan(DURATION_S * 1000 + 2_000);
  expect(c.transitions).toEqual(['started', 'stopped']);
  unreachable = false;
  await eventually('c leads again', async () => c.elector.isLeader, 10_000);
  await c.elector.stop();
});
