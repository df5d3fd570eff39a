import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  TopologyDocumentError,
  describeMissing,
  loadServiceTopology,
  parseServiceTopology,
  requiredObjects,
} from '../src';
import { testTopology } from './support/topology';

describe('topology document', () => {
  const document = testTopology('svc', { maxAttempts: 3, delaysMs: [100, 100] });

  it('lists every exchange and queue the service uses (and has rights on) once, with the routes that declare them', () => {
    const objects = requiredObjects(document).map((o) => `${o.kind}:${o.name}`);
    // Not the retry and dead-letter queues: no permission on them, so no passive declare (4.2.6+).
    expect(objects).toEqual([
      'exchange:svc.events',
      'queue:svc.orders',
      'exchange:svc.orders.retry',
      'exchange:svc.orders.dlx',
    ]);
    expect(describeMissing(requiredObjects(document)[1], 'v1')).toBe(
      'queue "svc.orders" (consuming) does not exist in vhost "v1"; it should be declared by EventRoute default/svc-orders: is the route applied and reconciled by the operator?',
    );
  });

  it('refuses a malformed document naming the field', () => {
    const broken = JSON.parse(JSON.stringify(document));
    broken.consumes[0].prefetch = 0;
    broken.consumes[0].retry.delaysMs = [100];
    expect(() => parseServiceTopology(broken, 'topology.json')).toThrow(
      /topology.json is not a valid ServiceTopology: consumes\.0\.prefetch: .*; consumes\.0\.retry\.delaysMs: delaysMs must have maxAttempts - 1 entries/,
    );
  });

  it('reads the retry strategy: absent (an older operator) is ttl-queues; broker has no retry exchange or levels', () => {
    const older = JSON.parse(JSON.stringify(document));
    delete older.consumes[0].retry.strategy;
    expect(parseServiceTopology(older).consumes[0]!.retry.strategy).toBe('ttl-queues');
    const broker = JSON.parse(JSON.stringify(document));
    Object.assign(broker.consumes[0].retry, { strategy: 'broker', exchange: '', levels: [] });
    expect(parseServiceTopology(broker).consumes[0]!.retry.strategy).toBe('broker');
    expect(requiredObjects(parseServiceTopology(broker)).map((o) => o.name)).toEqual([
      'svc.events',
      'svc.orders',
      'svc.orders.dlx',
    ]);
    const mixed = JSON.parse(JSON.stringify(document));
    mixed.consumes[0].retry.strategy = 'broker';
    expect(() => parseServiceTopology(mixed)).toThrow(
      'consumes.0.retry.levels: strategy broker has no retry exchange and no levels',
    );
  });

  it('loads from the file named by WARREN_TOPOLOGY_FILE and checks it is for this service', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-topology-'));
    const file = path.join(dir, 'topology.json');
    fs.writeFileSync(file, JSON.stringify(document));
    process.env.WARREN_TOPOLOGY_FILE = file;
    try {
      expect(loadServiceTopology({ service: 'svc' })).toEqual(document);
      expect(() => loadServiceTopology({ service: 'other' })).toThrow(
        /topology of service "svc", not "other"/,
      );
      expect(() =>
        loadServiceTopology({ service: 'svc', file: path.join(dir, 'missing.json') }),
      ).toThrow(TopologyDocumentError);
      fs.writeFileSync(file, '{');
      expect(() => loadServiceTopology({ service: 'svc' })).toThrow(/is not JSON/);
    } finally {
      delete process.env.WARREN_TOPOLOGY_FILE;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
