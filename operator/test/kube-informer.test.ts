/**
 * The informer against the real API server, with faults injected where the network would put
 * them: a watch ended by 410 Gone, a watch connection dropped, an API server refusing lists.
 */
import { eventually } from '@warren/testing';
import { KubeClient, type KubeObject } from '../src/kube/client';
import { Informer, type InformerEvent } from '../src/kube/informer';
import { controlPlaneForSuite } from './support/control-plane';

jest.setTimeout(120_000);

const suite = controlPlaneForSuite();

type Done = (error: (Error & { statusCode?: number }) | null) => void;
type OnEvent = (type: string, object: unknown) => void;

/**
 * The real client, with the faults the informer must survive at hand: the open watch can be
 * cut (its connection dropped) or ended with a 410 event, and lists can be made to fail.
 */
function faultyClient() {
  const real = suite.newClient();
  const lists: number[] = [];
  const watches: { resourceVersion: string }[] = [];
  let failLists = 0;
  let open: { abort: AbortController; onEvent: OnEvent; done: Done } | undefined;
  /** Watches ended here: their own end (an abort error) never reaches the informer. */
  const cutOff = new Set<AbortController>();
  const client = Object.create(real) as KubeClient;
  client.list = async <T>(path: string, query = {}) => {
    lists.push(Date.now());
    if (failLists > 0) {
      failLists--;
      throw new Error('connect ECONNREFUSED (injected)');
    }
    return real.list<T>(path, query);
  };
  client.watch = async (path, params, onEvent, done) => {
    watches.push({ resourceVersion: String(params.resourceVersion) });
    const abort: AbortController = await real.watch(path, params, onEvent, (error) => {
      if (cutOff.has(abort)) return;
      if (open?.abort === abort) open = undefined;
      done(error);
    });
    open = { abort, onEvent: onEvent as OnEvent, done };
    return abort;
  };
  /** Ends the open watch as the API server or the network would, without its own callback. */
  const cut = () => {
    const current = open!;
    open = undefined;
    cutOff.add(current.abort);
    current.abort.abort();
    return current;
  };
  return {
    client,
    lists,
    watches,
    failNextLists: (count: number) => (failLists = count),
    watching: () => open !== undefined,
    /** The history the watch resumes from is compacted: an ERROR event with code 410, then the end. */
    gone: () => {
      const current = cut();
      return () => {
        current.onEvent('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
        current.done(null);
      };
    },
    /** The connection drops mid-watch. */
    drop: () => cut().done(new Error('socket hang up (injected)')),
  };
}

const configMaps = (namespace: string) => `/api/v1/namespaces/${namespace}/configmaps`;

async function namespace(name: string) {
  await suite.admin.create('/api/v1/namespaces', { metadata: { name } });
  return name;
}

function start(client: KubeClient, ns: string) {
  const events: { type: InformerEvent; name: string }[] = [];
  const errors: unknown[] = [];
  const informer = new Informer<KubeObject>({
    client,
    path: configMaps(ns),
    relistIntervalMs: 600_000,
    onEvent: (type, object) => events.push({ type, name: object.metadata.name }),
    onError: (error) => errors.push(error),
  });
  return { informer, events, errors, synced: informer.start() };
}

const create = (ns: string, name: string) =>
  suite.admin.create(configMaps(ns), { metadata: { name }, data: { v: '1' } });
const names = (informer: Informer<KubeObject>) =>
  informer
    .list()
    .map((o) => o.metadata.name)
    .filter((n) => n !== 'kube-root-ca.crt')
    .sort();

it('relists after 410 Gone and reports what changed while the history was lost', async () => {
  const ns = await namespace('informer-gone');
  await create(ns, 'a');
  const faults = faultyClient();
  const { informer, events, synced } = start(faults.client, ns);
  await synced;
  await eventually('the watch', async () => faults.watching());
  expect(names(informer)).toEqual(['a']);

  const end = faults.gone();
  // Changes the informer never sees as watch events.
  await suite.admin.remove(`${configMaps(ns)}/a`);
  await create(ns, 'b');
  end();

  await eventually('the relisted cache', async () => names(informer).join() === 'b');
  expect(faults.lists).toHaveLength(2);
  expect(events).toEqual(
    expect.arrayContaining([
      { type: 'deleted', name: 'a' },
      { type: 'added', name: 'b' },
    ]),
  );
  // And it watches again, from the new list.
  await eventually('a new watch', async () => faults.watching());
  await create(ns, 'c');
  await eventually('c through the watch', async () => names(informer).join() === 'b,c');
  informer.stop();
});

it('reopens a dropped watch from the last resourceVersion it saw, without a relist', async () => {
  const ns = await namespace('informer-drop');
  const faults = faultyClient();
  const { informer, errors } = start(faults.client, ns);
  await eventually('the watch', async () => faults.watching());
  await create(ns, 'seen');
  await eventually('seen', async () => names(informer).includes('seen'));
  const lastSeen = informer.get(`${ns}/seen`)!.metadata.resourceVersion;

  faults.drop();
  await eventually('the watch back', async () => faults.watching(), 10_000);
  expect(faults.watches.at(-1)?.resourceVersion).toBe(lastSeen);
  expect(faults.lists).toHaveLength(1);
  expect(String(errors[0])).toContain('socket hang up');

  await create(ns, 'after');
  await eventually('after', async () => names(informer).join() === 'after,seen');
  informer.stop();
});

it('backs off exponentially while the API server refuses, then syncs', async () => {
  const ns = await namespace('informer-backoff');
  await create(ns, 'x');
  const faults = faultyClient();
  faults.failNextLists(3);
  const { informer, errors, synced } = start(faults.client, ns);
  await synced;
  expect(names(informer)).toEqual(['x']);
  expect(errors).toHaveLength(3);
  const gaps = faults.lists.slice(1).map((at, i) => at - faults.lists[i]!);
  // 500 ms, 1 s, 2 s: each wait at least the documented delay, and doubling.
  expect(gaps[0]).toBeGreaterThanOrEqual(450);
  expect(gaps[1]).toBeGreaterThanOrEqual(950);
  expect(gaps[2]).toBeGreaterThanOrEqual(1950);
  expect(gaps[2]!).toBeGreaterThan(gaps[0]! * 2);
  informer.stop();
});
