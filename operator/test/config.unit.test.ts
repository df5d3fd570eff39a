/** The operator's settings from the environment: defaults, and a clear error for a bad value. */
import { operatorConfigFromEnv } from '../src/runtime/operator';
import {
  DEFAULT_HEAP_GROWING_PERCENT,
  DEFAULT_IDLE_COLLECTION_MS,
  heapGrowingPercent,
  idleCollection,
  idleCollectionMs,
} from '../src/runtime/heap';

describe('operatorConfigFromEnv', () => {
  it('has the documented defaults', () => {
    const config = operatorConfigFromEnv({ RABBITMQ_URL: 'amqp://warren:pw@rabbit:5672' });
    expect(config).toMatchObject({
      namespaces: [],
      resyncSeconds: 60,
      finalizerTimeoutSeconds: 300,
      leaseName: 'warren-operator',
      leaseDurationSeconds: 15,
      port: 8080,
      migrationRetrySeconds: 10,
      migrationJobTtlSeconds: 86400,
      prometheusRules: true,
      broker: {
        amqpUrl: 'amqp://warren:pw@rabbit:5672',
        managementUrl: 'http://warren:pw@rabbit:15672/',
        defaultVhost: '/',
      },
    });
  });

  it('reads every variable the chart sets', () => {
    const config = operatorConfigFromEnv({
      WARREN_WATCH_NAMESPACES: 'shop, billing',
      WARREN_RESYNC_SECONDS: '30',
      WARREN_LEASE_NAME: 'warren-eu-operator',
      WARREN_MIGRATION_JOB_TTL_SECONDS: '600',
      WARREN_PROMETHEUS_RULES: 'false',
      POD_NAMESPACE: 'warren-system',
      RABBITMQ_MANAGEMENT_URL: 'http://warren:pw@rabbit:15672',
    });
    expect(config).toMatchObject({
      namespaces: ['shop', 'billing'],
      resyncSeconds: 30,
      leaseName: 'warren-eu-operator',
      leaseNamespace: 'warren-system',
      migrationJobTtlSeconds: 600,
      prometheusRules: false,
    });
  });

  it('names the variable and the value it refuses', () => {
    expect(() => operatorConfigFromEnv({})).toThrow('no broker: pass --management-url');
    expect(() => operatorConfigFromEnv({ WARREN_RESYNC_SECONDS: 'soon' })).toThrow(
      'WARREN_RESYNC_SECONDS=soon must be a positive number',
    );
    expect(() => operatorConfigFromEnv({ WARREN_PROMETHEUS_RULES: 'yes' })).toThrow(
      'WARREN_PROMETHEUS_RULES=yes must be true or false',
    );
  });
});

describe('heapGrowingPercent (WARREN_HEAP_GROWING_PERCENT)', () => {
  it('defaults to 40, takes a whole number, 0 for V8 defaults, and refuses anything else', () => {
    expect(heapGrowingPercent(undefined)).toBe(DEFAULT_HEAP_GROWING_PERCENT);
    expect(DEFAULT_HEAP_GROWING_PERCENT).toBe(40);
    expect(heapGrowingPercent('25')).toBe(25);
    expect(heapGrowingPercent('0')).toBe(0);
    expect(() => heapGrowingPercent('1.5')).toThrow(
      /WARREN_HEAP_GROWING_PERCENT must be a whole number/,
    );
    expect(() => heapGrowingPercent('-3')).toThrow(/got "-3"/);
  });
});

describe('idle collection (WARREN_IDLE_GC_MS)', () => {
  it('defaults to 1000 ms, takes whole milliseconds, 0 for off, and refuses anything else', () => {
    expect(idleCollectionMs(undefined)).toBe(DEFAULT_IDLE_COLLECTION_MS);
    expect(DEFAULT_IDLE_COLLECTION_MS).toBe(1000);
    expect(idleCollectionMs(' 250 ')).toBe(250);
    expect(idleCollectionMs('0')).toBe(0);
    expect(() => idleCollectionMs('1s')).toThrow(
      'WARREN_IDLE_GC_MS must be a whole number of milliseconds (0: off), got "1s"',
    );
  });

  it('runs one full collection after the last poke: an unreachable object is gone', async () => {
    const collection = idleCollection(20);
    // Nothing else holds the object the WeakRef points to.
    const ref = new WeakRef({ payload: new Array(1000).fill('x') });
    collection.poke();
    collection.poke(); // debounced: one collection, 20 ms after this
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ref.deref()).toBeUndefined();
    collection.stop();
  });
});
