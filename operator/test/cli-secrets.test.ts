/**
 * No secret on a terminal or in a log: `apply` writes generated passwords to a file of mode 0600
 * (in the form it reads them back) and prints only where; `--show-secrets` prints them.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import type { TestVhost } from '@warren/testing';
import { createTestVhost } from '@warren/testing';
import { saveCredentials } from '../src/cli/credentials';
import { EXAMPLES } from './resources';
import { serviceAmqpUrl, warren } from './broker-helpers';

const SERVICES = ['user-service', 'order-service', 'notification-service'];

/** WARREN_PASSWORD_* assignments of a credentials file. */
const assignments = (text: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^WARREN_PASSWORD_/.test(line))
      .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
  );

describe('warren apply keeps generated passwords off the output', () => {
  let vhost: TestVhost;
  let dir: string;

  beforeAll(async () => {
    vhost = await createTestVhost('cli_secrets');
    dir = await mkdtemp(join(tmpdir(), 'warren-secrets-'));
  });

  afterAll(async () => {
    await vhost.dispose();
  });

  it('writes them to ./warren-credentials.env (mode 0600), prints only the path, and they log in', async () => {
    // The real process, for everything it writes to stdout and stderr.
    const bin = resolve(__dirname, '../../node_modules/.bin/warren');
    const { stdout, stderr } = await promisify(execFile)(bin, ['apply', '-f', EXAMPLES], {
      cwd: dir,
      env: {
        ...process.env,
        RABBITMQ_URL: vhost.amqpUrl,
        RABBITMQ_MANAGEMENT_URL: vhost.managementUrl,
      },
    });
    const file = join(dir, 'warren-credentials.env');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const passwords = assignments(await readFile(file, 'utf8'));
    expect(Object.keys(passwords).sort()).toEqual([
      'WARREN_PASSWORD_NOTIFICATION_SERVICE',
      'WARREN_PASSWORD_ORDER_SERVICE',
      'WARREN_PASSWORD_USER_SERVICE',
    ]);
    for (const password of Object.values(passwords)) {
      expect(password.length).toBeGreaterThanOrEqual(24);
      expect(stdout).not.toContain(password);
      expect(stderr).not.toContain(password);
    }
    expect(stdout).toContain(`written to ${file} (mode 0600)`);
    expect(stdout).not.toMatch(/password of/);

    // The file is the environment apply reads: the users log in with these passwords.
    for (const service of SERVICES) {
      const variable = `WARREN_PASSWORD_${service.toUpperCase().replace(/-/g, '_')}`;
      const user = `warren-${service}@${vhost.vhost}`;
      const connection = await connect(serviceAmqpUrl(vhost, user, passwords[variable]!));
      await connection.close();
    }
  });

  it('keeps them out of -o json too, and prints them only with --show-secrets', async () => {
    const fresh = await createTestVhost('cli_secrets_json');
    try {
      const env = { RABBITMQ_URL: fresh.amqpUrl, RABBITMQ_MANAGEMENT_URL: fresh.managementUrl };
      const file = join(dir, 'json.env');
      const json = await warren(
        ['apply', '-f', EXAMPLES, '-o', 'json', '--credentials-file', file],
        env,
      );
      expect(json.code).toBe(0);
      const passwords = Object.values(assignments(await readFile(file, 'utf8')));
      expect(passwords).toHaveLength(SERVICES.length);
      for (const password of passwords) expect(json.out + json.err).not.toContain(password);
      const printed = JSON.parse(json.out);
      expect(printed.credentialsFile).toBe(file);
      expect(printed.credentials[0]).toEqual({
        user: expect.any(String),
        service: expect.any(String),
        vhost: fresh.vhost,
        generated: true,
      });

      // Users that exist keep their password: a second apply generates nothing new.
      const again = await warren(['apply', '-f', EXAMPLES, '--credentials-file', file], env);
      expect(again.out).not.toContain('generated passwords');
    } finally {
      await fresh.dispose();
    }
    const shown = await createTestVhost('cli_secrets_shown');
    try {
      const env = { RABBITMQ_URL: shown.amqpUrl, RABBITMQ_MANAGEMENT_URL: shown.managementUrl };
      const file = join(dir, 'shown.env');
      const result = await warren(
        ['apply', '-f', EXAMPLES, '--show-secrets', '--credentials-file', file],
        env,
      );
      const passwords = Object.values(assignments(await readFile(file, 'utf8')));
      for (const password of passwords) expect(result.out).toContain(password);
    } finally {
      await shown.dispose();
    }
  });

  it('updates an existing credentials file in place, keeping its other lines, at mode 0600', async () => {
    const file = join(dir, 'merge.env');
    await writeFile(file, 'OTHER=1\n# user x (vhost v), then\nWARREN_PASSWORD_A=old\n', {
      mode: 0o644,
    });
    const credential = (service: string, password: string) => ({
      user: `${service}.v`,
      service,
      vhost: 'v',
      password,
      generated: true,
    });
    await saveCredentials(file, [credential('a', 'new'), credential('b-c', 'bee')]);
    const text = await readFile(file, 'utf8');
    expect(assignments(text)).toEqual({ WARREN_PASSWORD_A: 'new', WARREN_PASSWORD_B_C: 'bee' });
    expect(text).toMatch(/^OTHER=1\n# user a\.v \(vhost v\)/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});
