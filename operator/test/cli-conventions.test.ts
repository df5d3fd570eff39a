/**
 * kubectl's conventions in `warren`, without a broker: `-f -` (stdin), repeated `-f`,
 * `-o text|json|yaml`, `--version` / `version`, completion scripts, NO_COLOR, usage errors.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { formatPlan } from '../src/cli/format';
import { PLAIN, paintFor } from '../src/cli/output';
import { COMMANDS } from '../src/cli/registry';
import { plan } from '../src/engine/plan';
import { compile } from '../src/engine/compile';
import { emptyState } from '../src/engine/model';
import { EXAMPLES, route } from './resources';
import { warren } from './broker-helpers';

const env = {};
/** Example files as one YAML stream (the retry policy the routes refer to first). */
const examplesText = async (...names: string[]) =>
  (
    await Promise.all(
      ['retry-policy.yaml', ...names].map((n) => readFile(join(EXAMPLES, n), 'utf8')),
    )
  ).join('\n---\n');

describe('warren: input, output and shell conventions', () => {
  it('reads YAML from stdin with -f - (as kubectl apply -f -)', async () => {
    const text = await examplesText('user-events.yaml');
    const result = await warren(['validate', '-f', '-', '-o', 'json'], env, { stdin: text });
    expect(result.err).toBe('');
    expect(JSON.parse(result.out)).toMatchObject({ valid: true, files: ['(stdin)'] });
  });

  it('reads JSON from stdin, including a kubectl `kind: List`', async () => {
    const items = parseAllDocuments(await examplesText('order-events.yaml'))
      .map((d) => d.toJS())
      .filter(Boolean);
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
    const result = await warren(['validate', '-f', '-'], env, { stdin: list });
    expect(result).toMatchObject({
      code: 0,
      out: `${items.length} resources in 1 files are valid.`,
    });
  });

  it('names stdin in errors and refuses -f - twice', async () => {
    const broken = await warren(['validate', '-f', '-'], env, {
      stdin: 'apiVersion: warren.dev/v1alpha1\nkind: EventRoute\nmetadata: {name: x}\nspec: {}\n',
    });
    expect(broken.code).toBe(1);
    expect(broken.out).toMatch(/^\(stdin\): EventRoute default\/x: spec/m);
    const twice = await warren(['validate', '-f', '-', '-f', '-'], env, { stdin: '' });
    expect(twice).toMatchObject({ code: 1, err: expect.stringContaining('only once') });
  });

  it('reads every -f in order, across files and stdin, and finds duplicates across them', async () => {
    const policy = join(EXAMPLES, 'retry-policy.yaml');
    const users = join(EXAMPLES, 'user-events.yaml');
    const orders = await readFile(join(EXAMPLES, 'order-events.yaml'), 'utf8');
    const result = await warren(['validate', '-f', policy, '-f', '-', '-f', users], env, {
      stdin: orders,
    });
    expect(result).toMatchObject({ code: 0, out: '5 resources in 3 files are valid.' });

    const twice = await warren(['validate', '-f', policy, '-f', users, '-f', '-'], env, {
      stdin: await readFile(users, 'utf8'),
    });
    expect(twice.code).toBe(1);
    expect(twice.out).toContain(
      `(stdin): EventRoute default/user-created-to-notification: metadata.name: Duplicate value: already defined in ${users}`,
    );
  });

  it('prints -o yaml (and json) of the same data', async () => {
    const yaml = await warren(['validate', '-f', EXAMPLES, '-o', 'yaml'], env);
    const json = await warren(['validate', '-f', EXAMPLES, '-o', 'json'], env);
    expect(yaml.code).toBe(0);
    expect(parse(yaml.out)).toEqual(JSON.parse(json.out));
    expect(parse(yaml.out)).toMatchObject({ valid: true, resources: 5 });

    const topology = await warren(
      ['topology', '-f', EXAMPLES, '--service', 'notification-service', '-o', 'yaml'],
      env,
    );
    expect(parse(topology.out)).toMatchObject({ service: 'notification-service' });
    const bad = await warren(['validate', '-f', EXAMPLES, '-o', 'wide'], env);
    expect(bad).toMatchObject({ code: 1, err: 'warren: -o must be text, json, yaml, not "wide"' });
  });

  it('prints --version, and `version` with the engine and CRD versions', async () => {
    const operator = JSON.parse(await readFile(join(__dirname, '../package.json'), 'utf8'));
    const cli = JSON.parse(await readFile(join(__dirname, '../cli/package.json'), 'utf8'));
    expect(await warren(['--version'], env)).toEqual({
      code: 0,
      out: `warren ${cli.version}`,
      err: '',
    });
    const version = await warren(['version', '-o', 'json'], env);
    expect(JSON.parse(version.out)).toEqual({
      cli: cli.version,
      engine: operator.version,
      crds: 'warren.dev/v1alpha1',
      node: process.version,
    });
  });

  it('prints a bash completion script that completes commands, flags and their values', async () => {
    const script = (await warren(['completion', 'bash'], env)).out;
    const dir = await mkdtemp(join(tmpdir(), 'warren-completion-'));
    await writeFile(join(dir, 'warren.bash'), script);
    /** COMPREPLY for the words typed so far (the last one being completed). */
    const complete = async (...words: string[]) => {
      const { stdout } = await promisify(execFile)('bash', [
        '-c',
        `source ${join(dir, 'warren.bash')}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _warren; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ]);
      return stdout.trim().split('\n');
    };
    expect(await complete('warren', '')).toEqual(COMMANDS.map((c) => c.name));
    expect(await complete('warren', 'dead')).toEqual(['dead-letters']);
    expect(await complete('warren', 'plan', '--detailed')).toEqual(['--detailed-exitcode']);
    expect(await complete('warren', 'plan', '-o', '')).toEqual(['text', 'json', 'yaml']);
    expect(await complete('warren', 'completion', '')).toEqual(['bash', 'zsh']);
    expect(await complete('kubectl-warren', 'redrive', '--reason', 'non')).toEqual([
      'non-retryable',
    ]);
  });

  it('prints a zsh completion script listing every command and flag', async () => {
    const script = (await warren(['completion', 'zsh'], env)).out;
    expect(script.split('\n')[0]).toBe('#compdef warren kubectl-warren');
    for (const command of COMMANDS) expect(script).toContain(`'${command.name}:`);
    expect(script).toContain("'*'{-f,--filename}'[");
    const missing = await warren(['completion', 'fish'], env);
    expect(missing).toMatchObject({
      code: 1,
      err: 'warren: completion needs the shell: warren completion bash|zsh',
    });
  });

  it('colours plans on a terminal only, never with NO_COLOR', () => {
    const desired = compile([route('colour-test')], [], { defaultVhost: '/' });
    const text = formatPlan(plan(desired, emptyState()), paintFor({}, true));
    expect(text).toContain('\u001b[32m+\u001b[0m queue');
    expect(paintFor({ NO_COLOR: '1' }, true)).toBe(PLAIN);
    expect(paintFor({ NO_COLOR: '1', FORCE_COLOR: '1' }, true)).toBe(PLAIN);
    expect(paintFor({}, false)).toBe(PLAIN);
    expect(paintFor({ FORCE_COLOR: '1' }, false)).not.toBe(PLAIN);
  });

  it('names the cause of an unreachable broker, without its credentials', async () => {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    await new Promise((done) => server.close(done));
    const result = await warren(
      ['plan', '-f', EXAMPLES, '--management-url', `http://admin:pa55word@127.0.0.1:${port}/`],
      env,
    );
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^warren: fetch failed: connect ECONNREFUSED/);
    expect(result.err).not.toContain('pa55word');
  });

  it('explains usage errors with exit code 1', async () => {
    expect(await warren(['plan'], env)).toMatchObject({
      code: 1,
      err: 'warren: plan needs -f PATH (or --kube to read the cluster)',
    });
    expect(await warren(['apply', '--kube'], env)).toMatchObject({
      code: 1,
      err: expect.stringContaining('apply reads files only'),
    });
    expect(await warren(['validate', '-f', EXAMPLES, '-n', 'shop'], env)).toMatchObject({
      code: 1,
      err: 'warren: -n, -A and --context go with --kube',
    });
    expect(await warren(['version', 'extra'], env)).toMatchObject({
      code: 1,
      err: 'warren: unexpected arguments: extra',
    });
    expect(await warren(['--bogus'], env)).toMatchObject({
      code: 1,
      err: expect.stringContaining("Unknown option '--bogus'"),
    });
  });
});
