/** Helpers for tests against the real broker: run the CLI in-process, write resource folders, clean up users. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WarrenResource } from '@warren/crds';
import type { ChannelModel, GetMessage } from 'amqplib';
import type { TestVhost } from '@warren/testing';
import { stringify } from 'yaml';
import type { InvokedAs } from '../src/cli/main';
import { run } from '../src/cli/main';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `warren` in-process; `stdin` is what `-f -` reads. */
export async function warren(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: { stdin?: string; isTTY?: boolean; invokedAs?: InvokedAs } = {},
): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(
    args,
    {
      out: (text) => out.push(text),
      err: (text) => err.push(text),
      readStdin: async () => {
        if (io.stdin === undefined) throw new Error('the test gave no stdin');
        return io.stdin;
      },
      isTTY: io.isTTY,
    },
    env,
    io.invokedAs,
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The environment `warren` gets in a suite: the suite's vhost (in the AMQP URL) and fixed service passwords. */
export function cliEnv(vhost: TestVhost): NodeJS.ProcessEnv {
  return {
    RABBITMQ_URL: vhost.amqpUrl,
    RABBITMQ_MANAGEMENT_URL: vhost.managementUrl,
    WARREN_PASSWORD_USER_SERVICE: 'user-secret',
    WARREN_PASSWORD_ORDER_SERVICE: 'order-secret',
    WARREN_PASSWORD_NOTIFICATION_SERVICE: 'notification-secret',
    WARREN_PASSWORD_AUDIT_SERVICE: 'audit-secret',
  };
}

export async function writeResources(resources: WarrenResource[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'warren-resources-'));
  await writeFile(
    join(dir, 'resources.yaml'),
    resources.map((resource) => stringify(resource)).join('---\n'),
  );
  return dir;
}

export const queuePath = (vhost: TestVhost, queue: string) =>
  `/api/queues/${encodeURIComponent(vhost.vhost)}/${encodeURIComponent(queue)}`;

/** AMQP URL of a service user in the suite's vhost. */
export function serviceAmqpUrl(vhost: TestVhost, user: string, password: string): string {
  const url = new URL(vhost.amqpUrl);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  return url.toString();
}

/** Takes every message now in `queue` off it (acknowledged on delivery). */
export async function drainQueue(connection: ChannelModel, queue: string): Promise<GetMessage[]> {
  const channel = await connection.createChannel();
  const messages: GetMessage[] = [];
  for (
    let message = await channel.get(queue, { noAck: true });
    message;
    message = await channel.get(queue, { noAck: true })
  ) {
    messages.push(message);
  }
  await channel.close();
  return messages;
}
