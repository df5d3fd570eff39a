import { createTestDatabase, type TestDatabase } from '@warren/testing';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { runPrisma, type PrismaRun } from '../src';

/**
 * The stand-in engine rests on the Prisma CLI's undocumented engine protocol. This runs the
 * ordinary CLI commands a developer and a deployment use, offline, against a real database, so
 * a Prisma upgrade that changes the protocol fails here rather than in production.
 */
const SCHEMA = `
generator client {
  provider = "prisma-client"
  output   = "../generated"
}

datasource db {
  provider = "postgresql"
}

model Account {
  id       Int    @id @default(autoincrement())
  email    String @unique
  /// "char" columns are what trips adapter-pg's type mapping (prisma/orm#27403).
  tier     String @db.Char(1)
  balance  Decimal @db.Decimal(12, 2)
}
`;

const CONFIG = `
import { defineConfig } from 'prisma/config';
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL! },
});
`;

let database: TestDatabase;
let project: string;

beforeAll(async () => {
  database = await createTestDatabase('prisma_cli');
  // Inside the repository, so that `prisma/config` resolves from node_modules as in a service.
  mkdirSync(join(__dirname, '..', '.smoke'), { recursive: true });
  project = mkdtempSync(join(__dirname, '..', '.smoke', 'project-'));
  writeFileSync(join(project, 'prisma.config.ts'), CONFIG);
  mkdirSync(join(project, 'prisma'));
  writeFileSync(join(project, 'prisma', 'schema.prisma'), SCHEMA);
});

afterAll(async () => {
  rmSync(project, { recursive: true, force: true });
  await database?.dispose();
});

const prisma = (...args: string[]) => runPrisma(args, { cwd: project, databaseUrl: database.url });

function expectSuccess(run: PrismaRun): void {
  if (run.code !== 0) throw new Error(`prisma exited ${run.code}\n${run.stdout}\n${run.stderr}`);
}

async function query<T>(sql: string): Promise<T[]> {
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

// Each Prisma CLI command takes 1.5-8 s; on a loaded 2-core machine a dozen of them need room.
jest.setTimeout(300_000);

it('migrate dev, deploy, status and diff work offline through the stand-in engine', async () => {
  const dev = await prisma('migrate', 'dev', '--name', 'init');
  expectSuccess(dev);
  expect(dev.stdout).toContain('Your database is now in sync with your schema.');
  const [migration] = readdirSync(join(project, 'prisma', 'migrations')).filter((n) =>
    n.endsWith('_init'),
  );
  expect(migration).toBeDefined();

  const applied = await query<{
    migration_name: string;
    checksum: string;
    finished_at: Date | null;
  }>('SELECT migration_name, checksum, finished_at FROM _prisma_migrations');
  expect(applied).toEqual([
    expect.objectContaining({ migration_name: migration, finished_at: expect.any(Date) }),
  ]);
  expect(applied[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
  const columns = await query<{ column_name: string }>(
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'Account' ORDER BY column_name",
  );
  expect(columns.map((c) => c.column_name)).toEqual(['balance', 'email', 'id', 'tier']);

  // The shadow database was a separate one, and it is gone.
  const shadows = await query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE 'prisma_migrate_shadow_db_%'",
  );
  expect(shadows).toEqual([]);

  const deploy = await prisma('migrate', 'deploy');
  expectSuccess(deploy);
  expect(deploy.stdout).toContain('No pending migrations to apply.');

  const status = await prisma('migrate', 'status');
  expectSuccess(status);
  expect(status.stdout).toContain('Database schema is up to date!');

  const diff = await prisma(
    'migrate',
    'diff',
    '--from-config-datasource',
    '--to-schema',
    'prisma/schema.prisma',
    '--exit-code',
  );
  expect(diff.code).toBe(0);
});

it('reports drift: a hand-made change makes migrate diff --exit-code fail', async () => {
  await query('ALTER TABLE "Account" ADD COLUMN nickname text');
  const diff = await prisma(
    'migrate',
    'diff',
    '--from-config-datasource',
    '--to-schema',
    'prisma/schema.prisma',
    '--exit-code',
  );
  expect(diff.code).toBe(2);
  expect(diff.stdout).toContain('nickname');
});
