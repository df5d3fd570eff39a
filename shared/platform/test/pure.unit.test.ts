import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { migrationSql } from '@warren/messaging';
import { serviceAmqpUrl, serviceDir, servicePasswords, SERVICE_NAMES } from '../src';

describe('service broker credentials', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'passwords-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a password per service once, keeps it in an owner-only file, and returns it again', () => {
    const file = path.join(dir, 'credentials.json');
    const first = servicePasswords(file, SERVICE_NAMES);
    expect(Object.keys(first).sort()).toEqual([...SERVICE_NAMES].sort());
    expect(new Set(Object.values(first)).size).toBe(3);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(servicePasswords(file, SERVICE_NAMES)).toEqual(first);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(first);
  });

  it('builds the AMQP URL of the service user, encoding the @ of its name and the vhost', () => {
    const broker = {
      amqpUrl: 'amqp://guest:guest@127.0.0.1:5682/ignored',
      managementUrl: 'http://guest:guest@127.0.0.1:15682',
      vhost: 'e2e/one',
    };
    const url = new URL(serviceAmqpUrl(broker, 'order-service', 'p@ss:word'));
    expect(decodeURIComponent(url.username)).toBe('warren-order-service@e2e/one');
    expect(decodeURIComponent(url.password)).toBe('p@ss:word');
    expect(decodeURIComponent(url.pathname.slice(1))).toBe('e2e/one');
    const root = new URL(serviceAmqpUrl({ ...broker, vhost: '/' }, 'user-service', 'x'));
    expect(root.username).toBe('warren-user-service');
    expect(decodeURIComponent(root.pathname.slice(1))).toBe('/');
  });
});

describe('the messaging migration of each service', () => {
  it.each(SERVICE_NAMES)('%s ships the messaging module SQL unchanged', (service) => {
    const migrations = path.join(serviceDir(service), 'prisma', 'migrations');
    const messaging = readdirSync(migrations).filter((name) => name.endsWith('_warren_messaging'));
    expect(messaging).toHaveLength(1);
    expect(readFileSync(path.join(migrations, messaging[0], 'migration.sql'), 'utf8')).toBe(
      migrationSql(),
    );
  });
});
