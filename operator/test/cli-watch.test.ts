/**
 * `warren status --watch` as a terminal program: under a pseudo-terminal (script(1)) it clears
 * and redraws, colours the route whose queue has messages and no consumer, and drops the
 * colour for NO_COLOR; in a pipe its frames carry no escape code at all. Against the real
 * broker, on examples/ applied to a fresh vhost. The ranking and the frame are unit-tested too.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { connect } from 'amqplib';
import { createTestVhost, type TestVhost } from '@warren/testing';
import type { RouteAlertInput } from '../src/alerts/rules';
import {
  CLEAR_SCREEN,
  renderFrame,
  routeRows,
  useColour,
  type QueueSample,
} from '../src/cli/watch';
import { cliEnv, warren } from './broker-helpers';
import { EXAMPLES } from './resources';

const ROOT = resolve(__dirname, '../..');
const NOTIFY = 'notification-service.user-created-to-notification';
const RED = '\u001b[31;1m';

const route = (name: string, queue: string): RouteAlertInput => ({
  namespace: 'shop',
  route: name,
  consumerService: 'svc',
  vhost: '/',
  queue,
  deadLetterQueue: `${queue}.dlq`,
  retryQueues: [`${queue}.retry.1s`, `${queue}.retry.2s`],
  thresholds: { queueDepth: 10, oldestMessageAgeSeconds: 60, deadLetterDepth: 1 },
});

const sample = (entries: [string, number, number?][]) =>
  new Map<string, QueueSample>(
    entries.map(([name, messages, consumers]) => [
      `/\u0000${name}`,
      { name, messages, consumers, message_stats: { publish_details: { rate: 1.5 } } },
    ]),
  );

describe('the live view (pure)', () => {
  const routes = [route('calm', 'a'), route('deep', 'b'), route('orphan', 'c'), route('dead', 'd')];
  const queues = sample([
    ['a', 1, 1],
    ['b', 50, 2],
    ['c', 3, 0],
    ['d', 0, 1],
    ['d.dlq', 2],
    ['a.retry.1s', 4],
    ['a.retry.2s', 1],
  ]);

  it('ranks worst first: no consumer with messages, then thresholds crossed, then depth', () => {
    const rows = routeRows(routes, queues);
    expect(rows.map((row) => [row.route, row.severity, [...row.crossed]])).toEqual([
      ['shop/orphan', 'critical', ['consumers']],
      ['shop/deep', 'warning', ['depth']],
      ['shop/dead', 'warning', ['deadLetters']],
      ['shop/calm', 'ok', []],
    ]);
    expect(rows[3]).toMatchObject({ retryBacklog: 5, inRate: 1.5, outRate: undefined });
  });

  it('colours only crossed cells, and only when asked', () => {
    const rows = routeRows(routes, queues);
    const at = new Date('2026-12-01T00:00:00Z');
    const plain = renderFrame(rows, { colour: false, at, source: 'x' });
    expect(plain).not.toContain('\u001b');
    expect(plain.split('\n')[1]).toMatch(/^ROUTE\s+QUEUE\s+DEPTH\s+IN\s+OUT\s+CONSUMERS/);
    const coloured = renderFrame(rows, { colour: true, at, source: 'x' });
    expect(coloured).toContain(`${RED}0`);
    expect(coloured.split('\n').find((l) => l.startsWith('shop/calm'))).not.toContain('\u001b');
  });

  it('honours NO_COLOR and TERM=dumb, and never colours a pipe', () => {
    expect(useColour(true, {})).toBe(true);
    expect(useColour(true, { NO_COLOR: '1' })).toBe(false);
    expect(useColour(true, { TERM: 'dumb' })).toBe(false);
    expect(useColour(false, {})).toBe(false);
  });
});

describe('warren status --watch against a real broker', () => {
  let vhost: TestVhost;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    vhost = await createTestVhost('watch');
    env = cliEnv(vhost);
    expect((await warren(['apply', '-f', EXAMPLES], env)).code).toBe(0);
    // Messages and no consumer: the route must come first, coloured.
    const connection = await connect(vhost.amqpUrl);
    const channel = await connection.createConfirmChannel();
    for (let i = 0; i < 3; i++)
      channel.sendToQueue(NOTIFY, Buffer.from('{}'), { persistent: true });
    await channel.waitForConfirms();
    await connection.close();
  });

  afterAll(async () => {
    await vhost.dispose();
  });

  const cli = `${process.execPath} --conditions=warren-source --import tsx operator/src/cli/main.ts status --watch -f examples --interval 1`;

  /** Runs `command` until `done(output)` says so, then interrupts it (Ctrl-C). */
  function runUntil(
    command: string,
    args: string[],
    extraEnv: NodeJS.ProcessEnv,
    done: (output: string) => boolean,
  ): Promise<{ output: string; code: number | null }> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(command, args, {
        cwd: ROOT,
        env: { ...process.env, ...env, ...extraEnv },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let output = '';
      let errors = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`no expected output in 90 s:\n${output}\n${errors}`));
      }, 90_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (done(output)) child.kill('SIGINT');
      });
      child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolvePromise({ output, code });
      });
    });
  }

  const criticalFrames = (output: string) =>
    output.split(/warren status --watch/).filter((frame) => /critical/.test(frame)).length;

  // script(1): a real pseudo-terminal; -e passes the exit code, -f flushes, /dev/null: no typescript file.
  const underPty = (extraEnv: NodeJS.ProcessEnv) =>
    runUntil(
      'script',
      ['-qfec', cli, '/dev/null'],
      { TERM: 'xterm', ...extraEnv },
      (output) => criticalFrames(output) >= 2,
    );

  it('redraws in place and colours the route without consumers, first, on a terminal', async () => {
    const { output } = await underPty({ NO_COLOR: '' });
    expect(output).toContain(CLEAR_SCREEN);
    const last = output.slice(output.lastIndexOf(CLEAR_SCREEN));
    const lines = last.split(/\r?\n/);
    expect(lines[2]).toContain(NOTIFY);
    expect(lines[2]).toContain(RED);
  }, 120_000);

  it('keeps the redraw but drops colour with NO_COLOR', async () => {
    const { output } = await underPty({ NO_COLOR: '1' });
    expect(output).toContain(CLEAR_SCREEN);
    expect(output).not.toContain(RED);
  }, 120_000);

  it('prints plain frames, one after another, in a pipe', async () => {
    const [command, ...args] = cli.split(' ');
    const { output, code } = await runUntil(command!, args, {}, (o) => criticalFrames(o) >= 2);
    expect(output).not.toContain('\u001b');
    expect(criticalFrames(output)).toBeGreaterThanOrEqual(2);
    const frame = output.split('\n\n')[0]!.split('\n');
    expect(frame[2]).toMatch(
      new RegExp(`^default/user-created-to-notification\\s+${NOTIFY}\\s+3\\s`),
    );
    expect(code).toBe(0);
  }, 120_000);
});
