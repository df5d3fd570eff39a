/**
 * The services' stdout logger is buffered: lines must still arrive within about a second while
 * the process runs, and every line must be written when it exits, also when it crashes.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

const LOGGER = path.resolve(__dirname, '../src/logger.ts');

/** Runs a script that logs through createJsonLogger; resolves with its stdout lines. */
function run(script: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(
    process.execPath,
    ['--conditions=warren-source', '--import', 'tsx', '-e', script],
    { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: { msg: string; at: number }[] = [];
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop()!;
    for (const part of parts)
      lines.push({ msg: (JSON.parse(part) as { msg: string }).msg, at: Date.now() });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { lines, exited, child };
}

const header = `const { createJsonLogger } = require(${JSON.stringify(LOGGER)}); const log = createJsonLogger('test');`;

describe('the services logger', () => {
  it('writes a quiet line within about a second, before the process ends', async () => {
    const { lines, exited, child } = run(
      `${header} log.info('first'); process.stderr.write('logged\\n'); setTimeout(() => {}, 5000);`,
    );
    await new Promise((resolve) => child.stderr.once('data', resolve));
    const logged = Date.now();
    while (lines.length === 0 && Date.now() - logged < 4000)
      await new Promise((r) => setTimeout(r, 50));
    expect(lines.map((l) => l.msg)).toEqual(['first']);
    expect(lines[0]!.at - logged).toBeLessThan(2500); // the 1 s flush, not the exit
    await exited;
  }, 30_000);

  it('writes every buffered line when the process exits or crashes', async () => {
    const many = run(
      `${header} for (let i = 0; i < 1000; i++) log.info('line ' + i); process.exit(0);`,
    );
    expect(await many.exited).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(many.lines).toHaveLength(1000);
    expect(many.lines[999]!.msg).toBe('line 999');

    const crash = run(
      `${header} log.info('before the crash'); setImmediate(() => { throw new Error('boom'); });`,
    );
    expect(await crash.exited).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(crash.lines.map((l) => l.msg)).toEqual(['before the crash']);
  }, 20_000);

  it('writes each line at once with LOG_SYNC=true', async () => {
    // The process stays up long after the line (well past the buffered stream's 1 s flush), so
    // a line seen while it is alive was written at once, however long the start-up took.
    const { lines, exited, child } = run(
      `${header} log.info('now'); setTimeout(() => {}, 60_000);`,
      {
        LOG_SYNC: 'true',
      },
    );
    let done = false;
    void exited.then(() => (done = true));
    while (lines.length === 0 && !done) await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    expect(lines.map((l) => l.msg)).toEqual(['now']);
    child.kill();
    await exited;
  }, 30_000);
});
