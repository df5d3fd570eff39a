import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InfraConfig } from './config';
import {
  assertPortFree,
  ensureDir,
  InfraError,
  isAlive,
  isListening,
  readPid,
  run,
  tail,
} from './process';
import { ensureInstalled } from './install';
import type { LocalServer } from './server';

const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * A private PostgreSQL 15 cluster in the state folder, trust auth on loopback only.
 * initdb refuses to run as root, so as root the cluster belongs to the `postgres` system user.
 * Durability settings are relaxed: this cluster holds only test and local-development data.
 */
export class PostgresServer implements LocalServer {
  readonly name = 'postgres';
  private readonly dir: string;

  constructor(private readonly config: InfraConfig) {
    this.dir = path.join(config.stateDir, 'postgres');
  }

  private get dataDir() {
    return path.join(this.dir, 'data');
  }

  private get logFile() {
    return path.join(this.dir, 'postgres.log');
  }

  private asOwner(command: string, args: string[]) {
    const isRoot = process.getuid?.() === 0;
    return isRoot
      ? run('runuser', ['-u', 'postgres', '--', command, ...args], { timeoutMs: 120_000 })
      : run(command, args, { timeoutMs: 120_000 });
  }

  install(log: (line: string) => void) {
    return ensureInstalled(path.join(PG_BIN, 'postgres'), 'postgresql', log);
  }

  describe() {
    return `postgresql://postgres@127.0.0.1:${this.config.postgres.port}`;
  }

  async isRunning(): Promise<boolean> {
    const pid = readPid(path.join(this.dataDir, 'postmaster.pid'));
    return pid !== undefined && isAlive(pid) && isListening(this.config.postgres.port);
  }

  private async initCluster(log: (line: string) => void) {
    if (fs.existsSync(path.join(this.dataDir, 'PG_VERSION'))) return;
    log('initialising a PostgreSQL cluster ...');
    ensureDir(this.config.stateDir);
    ensureDir(this.dir);
    if (process.getuid?.() === 0) {
      const chown = await run('chown', ['postgres:postgres', this.dir]);
      if (chown.code !== 0)
        throw new InfraError(`chown postgres ${this.dir} failed: ${chown.stderr.trim()}`);
    }
    const init = await this.asOwner(path.join(PG_BIN, 'initdb'), [
      '-D',
      this.dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
    ]);
    if (init.code !== 0)
      throw new InfraError(`initdb failed: ${init.stderr.trim() || init.stdout.trim()}`);
  }

  async start(log: (line: string) => void): Promise<void> {
    const port = this.config.postgres.port;
    await assertPortFree(port, 'PostgreSQL', 'WARREN_POSTGRES_PORT');
    await this.initCluster(log);
    log(`starting PostgreSQL (${this.describe()}) ...`);
    // A postmaster.pid left by a crash is handled by postgres itself when the pid is gone.
    const options = [
      `-p ${port}`,
      `-k ${this.dir}`,
      `-c listen_addresses=127.0.0.1`,
      `-c max_connections=300`,
      `-c fsync=off`,
      `-c synchronous_commit=off`,
      `-c full_page_writes=off`,
    ].join(' ');
    const started = await this.asOwner(path.join(PG_BIN, 'pg_ctl'), [
      '-D',
      this.dataDir,
      '-l',
      this.logFile,
      '-o',
      options,
      '-w',
      '-t',
      '60',
      'start',
    ]);
    if (started.code !== 0) {
      throw new InfraError(
        `PostgreSQL did not start (${started.stderr.trim()}). Log tail of ${this.logFile}:\n${tail(this.logFile)}`,
      );
    }
  }

  async stop(log: (line: string) => void): Promise<void> {
    if (!fs.existsSync(path.join(this.dataDir, 'postmaster.pid'))) return;
    log('stopping PostgreSQL ...');
    const stopped = await this.asOwner(path.join(PG_BIN, 'pg_ctl'), [
      '-D',
      this.dataDir,
      '-m',
      'fast',
      '-w',
      'stop',
    ]);
    if (stopped.code !== 0 && (await this.isRunning())) {
      throw new InfraError(`pg_ctl stop failed: ${stopped.stderr.trim()}`);
    }
  }
}
