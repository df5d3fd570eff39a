/** The DatabaseMigration controller's pure parts: input hash, database identity, Job manifest, decisions. */
import type { DatabaseMigration } from '@warren/crds';
import {
  connectionOf,
  databaseIdentity,
  inputHash,
  jobShape,
  migrationJob,
  migrationInputOf,
  migrationJobName,
  parseJobName,
} from '../src/controller/migration-job';
import {
  jobsToDelete,
  podFailureDetail,
  summarizeJob,
  type JobSummary,
} from '../src/controller/migration-job-status';
import { decideMigration, type MigrationObservation } from '../src/controller/migration-status';

const URL_A = 'postgresql://app:s3cret@db.example:5432/users?schema=public';
const now = new Date('2026-01-01T00:10:00Z');

function migration(
  status: DatabaseMigration['status'] = {},
  spec: Partial<DatabaseMigration['spec']> = {},
): DatabaseMigration {
  return {
    apiVersion: 'warren.dev/v1alpha1',
    kind: 'DatabaseMigration',
    metadata: { name: 'users', namespace: 'shop', uid: 'uid-1', generation: 1 },
    spec: {
      service: 'user-service',
      image: 'example/user-service:1',
      migrationsPath: 'prisma',
      database: { secretRef: { name: 'users-db', key: 'DATABASE_URL' } },
      job: { timeout: '1h' },
      backoffLimit: 1,
      ...spec,
    },
    status,
  } as DatabaseMigration;
}

const input = {
  image: 'example/user-service:1',
  migrationsPath: 'prisma',
  namespace: 'shop',
  secretName: 'users-db',
  secretKey: 'DATABASE_URL',
  databaseUrl: URL_A,
};
const HASH = inputHash(input);
const DB = 'db-label';

const job = (
  run: number,
  phase: JobSummary['phase'],
  extra: Partial<JobSummary> = {},
): JobSummary => ({
  name: migrationJobName('users', HASH, run),
  namespace: 'shop',
  migration: 'users',
  ownerUid: 'uid-1',
  inputHash: HASH,
  database: DB,
  run,
  attempt: 1,
  phase,
  startedAt: '2026-01-01T00:00:00Z',
  finishedAt: phase === 'active' ? undefined : '2026-01-01T00:09:59Z',
  message:
    phase === 'failed'
      ? 'BackoffLimitExceeded: Job has reached the specified backoff limit'
      : undefined,
  ...extra,
});

const observe = (over: Partial<MigrationObservation>): MigrationObservation => ({
  migration: migration(),
  input: { hash: HASH, database: DB },
  jobs: [],
  now,
  backoffMs: (failures) => 10_000 * 2 ** (failures - 1),
  ...over,
});
const ready = (d: ReturnType<typeof decideMigration>) =>
  d.status.conditions?.find((c) => c.type === 'Ready');
const cond = (d: ReturnType<typeof decideMigration>, type: string) =>
  d.status.conditions?.find((c) => c.type === type);

describe('input hash and database identity', () => {
  it('changes with the image, the path, the Secret reference and the URL, and hides the URL', () => {
    expect(HASH).toMatch(/^[0-9a-f]{40}$/);
    expect(inputHash({ ...input })).toBe(HASH);
    for (const change of [
      { image: 'example/user-service:2' },
      { migrationsPath: 'db/prisma' },
      { secretName: 'other' },
      { secretKey: 'URL' },
      { databaseUrl: URL_A.replace('s3cret', 'rotated') },
    ]) {
      expect(inputHash({ ...input, ...change })).not.toBe(HASH);
    }
  });

  it('takes spec.job into the input only where it differs from the defaults', () => {
    // A migration that never set spec.job keeps its hash: an operator upgrade reruns nothing.
    expect(inputHash(migrationInputOf(migration(), URL_A))).toBe(
      inputHash({ ...input, migrationsPath: 'prisma' }),
    );
    expect(jobShape({ timeout: '1h' })).toBeUndefined();
    expect(jobShape(undefined)).toBeUndefined();
    // Order does not matter; any change does (a Stalled migration may try again with it).
    expect(
      jobShape({
        imagePullSecrets: ['b', 'a'],
        resources: { limits: { memory: '1Gi', cpu: '2' } },
      }),
    ).toBe(
      jobShape({
        resources: { limits: { cpu: '2', memory: '1Gi' } },
        imagePullSecrets: ['a', 'b'],
      }),
    );
    const hashes = [
      { timeout: '1h' },
      { timeout: '2h' },
      { timeout: '1h', serviceAccountName: 'migrator' },
      { timeout: '1h', imagePullSecrets: ['registry'] },
      { timeout: '1h', resources: { requests: { memory: '256Mi' } } },
    ].map((job) => inputHash(migrationInputOf(migration({}, { job }), URL_A)));
    expect(new Set(hashes).size).toBe(hashes.length);
  });

  it('identifies a database by host, port, name and schema, whatever the credentials', () => {
    const id = databaseIdentity(URL_A, 'shop/users-db/DATABASE_URL');
    expect(id).toBe('postgresql://db.example:5432/users?schema=public');
    expect(databaseIdentity('postgres://other:pw@DB.example/users', 'x')).toBe(id);
    expect(databaseIdentity('postgresql://app@db.example/users?schema=billing', 'x')).not.toBe(id);
    expect(databaseIdentity('not a url', 'shop/users-db/DATABASE_URL')).toBe(
      'secret:shop/users-db/DATABASE_URL',
    );
  });

  it('drops Prisma-only URL parameters for node-postgres and keeps the schema', () => {
    expect(
      connectionOf('postgresql://u:p@h:5432/d?schema=app&connection_limit=5&sslmode=require'),
    ).toEqual({
      connectionString: 'postgresql://u:p@h:5432/d?sslmode=require',
      schema: 'app',
    });
  });
});

interface JobSpecView {
  activeDeadlineSeconds: number;
  template: {
    spec: {
      serviceAccountName?: string;
      imagePullSecrets?: { name: string }[];
      automountServiceAccountToken?: boolean;
      containers: { resources: unknown }[];
    };
  };
}

describe('the Job', () => {
  it('is named per run within 63 characters, and the name tells its input and run', () => {
    const name = migrationJobName('users', HASH, 3);
    expect(name).toBe(`users-${HASH.slice(0, 8)}-3`);
    expect(parseJobName(name)).toEqual({ hash8: HASH.slice(0, 8), run: 3 });
    const long = migrationJobName('a'.repeat(200), HASH, 12);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(parseJobName(long)?.run).toBe(12);
    expect(migrationJobName('a'.repeat(200), HASH, 12)).not.toBe(
      migrationJobName(`${'a'.repeat(199)}b`, HASH, 12),
    );
  });

  it('runs prisma migrate deploy once, with the URL only through the Secret, locked down', () => {
    const manifest = migrationJob(migration(), {
      name: 'users-x-1',
      run: 1,
      attempt: 1,
      hash: HASH,
      database: DB,
    });
    const text = JSON.stringify(manifest);
    expect(text).not.toContain('s3cret');
    const spec = manifest.spec as {
      backoffLimit: number;
      template: {
        spec: { containers: { command: string[]; env: unknown[]; securityContext: unknown }[] };
      };
    };
    expect(spec.backoffLimit).toBe(0);
    const container = spec.template.spec.containers[0]!;
    expect(container.command.slice(2)).toEqual(['migrate', 'deploy', '--schema', 'prisma']);
    expect(container.env).toContainEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'users-db', key: 'DATABASE_URL' } },
    });
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(manifest.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'DatabaseMigration', uid: 'uid-1', controller: true }),
    ]);
  });

  it('shapes the pod from spec.job: deadline, ServiceAccount, pull Secrets, resources over the defaults', () => {
    const run = { name: 'users-x-1', run: 1, attempt: 1, hash: HASH, database: DB };
    const plain = migrationJob(migration(), run).spec as unknown as JobSpecView;
    expect(plain.activeDeadlineSeconds).toBe(3600);
    expect(plain.template.spec.serviceAccountName).toBeUndefined();
    expect(plain.template.spec.imagePullSecrets).toBeUndefined();
    expect(plain.template.spec.containers[0].resources).toEqual({
      requests: { cpu: '100m', memory: '192Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    });
    const shaped = migrationJob(
      migration(
        {},
        {
          job: {
            timeout: '1h30m',
            serviceAccountName: 'migrator',
            imagePullSecrets: ['registry-a', 'registry-b'],
            resources: { requests: { memory: '1Gi' }, limits: { memory: '2Gi' } },
          },
        },
      ),
      run,
    ).spec as unknown as JobSpecView;
    expect(shaped.activeDeadlineSeconds).toBe(5400);
    expect(shaped.template.spec).toMatchObject({
      serviceAccountName: 'migrator',
      imagePullSecrets: [{ name: 'registry-a' }, { name: 'registry-b' }],
      automountServiceAccountToken: false,
    });
    expect(shaped.template.spec.containers[0].resources).toEqual({
      requests: { cpu: '100m', memory: '1Gi' },
      limits: { cpu: '1', memory: '2Gi' },
    });
  });

  it('reads a Job as running until Complete or Failed is True', () => {
    const base = { metadata: { name: 'j', namespace: 'shop', labels: {}, annotations: {} } };
    expect(
      summarizeJob({ ...base, status: { conditions: [{ type: 'FailureTarget', status: 'True' }] } })
        .phase,
    ).toBe('active');
    expect(
      summarizeJob({
        ...base,
        status: {
          conditions: [
            { type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'too slow' },
          ],
        },
      }),
    ).toMatchObject({ phase: 'failed', message: 'DeadlineExceeded: too slow' });
    expect(
      summarizeJob({ ...base, status: { conditions: [{ type: 'Complete', status: 'True' }] } })
        .phase,
    ).toBe('succeeded');
  });

  it('keeps the newest few finished Jobs and the last one', () => {
    const jobs = [1, 2, 3, 4, 5].map((run) => job(run, 'failed'));
    expect(
      jobsToDelete([...jobs, job(6, 'active')], job(5, 'failed').name).map((j) => j.run),
    ).toEqual([2, 1]);
  });
});

describe('decisions', () => {
  it('runs a Job for a new input', () => {
    const d = decideMigration(observe({}));
    expect(d.create).toEqual({ name: migrationJobName('users', HASH, 1), run: 1, attempt: 1 });
    expect(d.state).toBe('JobRunning');
    expect(d.status).toMatchObject({
      lastJobName: d.create!.name,
      failures: 0,
      observedGeneration: 1,
    });
    expect(d.events.map((e) => e.reason)).toEqual(['JobCreated']);
  });

  it('waits for a running Job and does not run another', () => {
    const running = job(1, 'active');
    const d = decideMigration(
      observe({ migration: migration({ lastJobName: running.name }), jobs: [running] }),
    );
    expect(d.create).toBeUndefined();
    expect(cond(d, 'Reconciling')).toMatchObject({ status: 'True', reason: 'JobRunning' });
  });

  it('treats a Job it just created as running before the cache shows it', () => {
    const d = decideMigration(
      observe({ pending: { name: migrationJobName('users', HASH, 1), run: 1 } }),
    );
    expect(d.create).toBeUndefined();
    expect(d.state).toBe('JobRunning');
  });

  it('records a success once; an applied input is not run again', () => {
    const done = job(1, 'succeeded');
    const first = decideMigration(
      observe({ migration: migration({ lastJobName: done.name, failures: 0 }), jobs: [done] }),
    );
    expect(first.finished?.result).toBe('succeeded');
    expect(first.status.inputHash).toBe(HASH);
    expect(ready(first)).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(first.events.map((e) => e.reason)).toEqual(['Succeeded']);
    const again = decideMigration(observe({ migration: migration(first.status), jobs: [done] }));
    expect(again.finished).toBeUndefined();
    expect(again.create).toBeUndefined();
    expect(again.events).toEqual([]);
  });

  it('says what it read from _prisma_migrations, or why it could not', () => {
    const done = job(1, 'succeeded');
    const status = { lastJobName: done.name, failures: 0, inputHash: HASH };
    const read = decideMigration(
      observe({
        migration: migration(status),
        jobs: [done],
        applied: { migrations: [{ name: 'a' }, { name: 'b_init' }] },
      }),
    );
    expect(ready(read)?.message).toBe(`2 migrations applied (latest b_init) by Job ${done.name}`);
    const unreadable = decideMigration(
      observe({
        migration: migration(status),
        jobs: [done],
        applied: { error: 'connect ECONNREFUSED' },
      }),
    );
    expect(ready(unreadable)).toMatchObject({ status: 'True' });
    expect(ready(unreadable)?.message).toContain(
      'could not read _prisma_migrations: connect ECONNREFUSED',
    );
  });

  it('counts a failure once, backs off, then runs attempt 2', () => {
    const failed = job(1, 'failed');
    const first = decideMigration(
      observe({ migration: migration({ lastJobName: failed.name, failures: 0 }), jobs: [failed] }),
    );
    expect(first.finished?.result).toBe('failed');
    expect(first.status.failures).toBe(1);
    expect(first.create).toBeUndefined();
    expect(first.requeueAfterMs).toBe(9_000);
    expect(cond(first, 'Degraded')).toMatchObject({ status: 'True', reason: 'JobFailed' });
    expect(first.events.map((e) => e.reason)).toEqual(['JobFailed']);

    const later = decideMigration(
      observe({
        migration: migration(first.status),
        jobs: [failed],
        now: new Date('2026-01-01T00:10:30Z'),
      }),
    );
    expect(later.finished).toBeUndefined();
    expect(later.create).toEqual({ name: migrationJobName('users', HASH, 2), run: 2, attempt: 2 });
    expect(later.status.failures).toBe(1);
  });

  it('stalls after backoffLimit + 1 failed runs of the same input; a new input starts afresh', () => {
    const failed = job(2, 'failed', { attempt: 2 });
    const d = decideMigration(
      observe({ migration: migration({ lastJobName: failed.name, failures: 1 }), jobs: [failed] }),
    );
    expect(d.status.failures).toBe(2);
    expect(d.create).toBeUndefined();
    expect(cond(d, 'Stalled')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' });
    expect(d.events.map((e) => e.reason)).toEqual(['JobFailed', 'BackoffLimitExceeded']);

    const raised = decideMigration(
      observe({
        migration: migration(d.status, { backoffLimit: 3 }),
        jobs: [failed],
        now: new Date('2026-01-01T01:00:00Z'),
      }),
    );
    expect(raised.create?.attempt).toBe(3);

    const other = inputHash({ ...input, image: 'example/user-service:2' });
    const fresh = decideMigration(
      observe({
        migration: migration(d.status),
        jobs: [failed],
        input: { hash: other, database: DB },
      }),
    );
    expect(fresh.create).toEqual({ name: migrationJobName('users', other, 3), run: 3, attempt: 1 });
    expect(fresh.status.failures).toBe(0);
  });

  it('waits for another migration of the same database, naming it', () => {
    const d = decideMigration(
      observe({ holder: { migration: 'shop/orders', job: 'orders-1234abcd-1' } }),
    );
    expect(d.create).toBeUndefined();
    expect(ready(d)).toMatchObject({ status: 'False', reason: 'WaitingForDatabase' });
    expect(ready(d)?.message).toContain('shop/orders');
    expect(d.events.map((e) => e.reason)).toEqual(['WaitingForDatabase']);
    // Announced once.
    const again = decideMigration(
      observe({ migration: migration(d.status), holder: { migration: 'shop/orders', job: 'x' } }),
    );
    expect(again.events).toEqual([]);
  });

  it("stalls with the API server's words when it refused the Job, and announces it once", () => {
    const refusal =
      'Job.batch "users-x-1" is invalid: spec.template.spec.containers[0].resources.requests: Invalid value: "1Gi": must be less than or equal to memory limit of 512Mi';
    const d = decideMigration(observe({ rejected: refusal }));
    expect(d.create).toBeUndefined();
    expect(ready(d)).toMatchObject({ status: 'False', reason: 'JobRejected' });
    expect(ready(d)?.message).toContain('must be less than or equal to memory limit');
    expect(cond(d, 'Stalled')).toMatchObject({ status: 'True', reason: 'JobRejected' });
    expect(d.events.map((e) => e.reason)).toEqual(['JobRejected']);
    const again = decideMigration(observe({ rejected: refusal, migration: migration(d.status) }));
    expect(again.events).toEqual([]);
  });

  it('names a missing Secret', () => {
    const d = decideMigration(
      observe({
        input: { problem: 'Secret shop/users-db not found (spec.database.secretRef.name)' },
      }),
    );
    expect(d.create).toBeUndefined();
    expect(ready(d)).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
    expect(cond(d, 'Stalled')).toMatchObject({ status: 'True', reason: 'SecretNotFound' });
  });

  it('adopts a Job newer than the one its status names (a lost status write)', () => {
    const running = job(2, 'active', { attempt: 2 });
    const d = decideMigration(
      observe({
        migration: migration({ lastJobName: job(1, 'failed').name, failures: 1 }),
        jobs: [job(1, 'failed'), running],
      }),
    );
    expect(d.create).toBeUndefined();
    expect(d.status).toMatchObject({ lastJobName: running.name, failures: 1 });
  });
});

describe('podFailureDetail', () => {
  const pod = (terminated: object | undefined, status: object = {}) => ({
    metadata: { name: 'users-0123abcd-1-x7k2p', namespace: 'shop' },
    status: {
      phase: 'Failed',
      ...status,
      containerStatuses: terminated ? [{ name: 'migrate', state: { terminated } }] : [],
    },
  });

  it("names the exit code and ends with the end of Prisma's output, one line", () => {
    const detail = podFailureDetail([
      pod({
        exitCode: 1,
        reason: 'Error',
        message:
          'Datasource "db": PostgreSQL database\n\nError: P1001: Can\'t reach database server\n',
      }),
    ]);
    expect(detail).toBe(
      'container migrate exited 1 (Error): Datasource "db": PostgreSQL database Error: P1001: Can\'t reach database server',
    );
  });

  it('keeps only the last 600 characters, marked as cut', () => {
    const detail = podFailureDetail([
      pod({ exitCode: 1, message: `${'x'.repeat(5000)} the cause` }),
    ])!;
    expect(detail.endsWith('the cause')).toBe(true);
    expect(detail.length).toBeLessThanOrEqual('container migrate exited 1: '.length + 600);
    expect(detail).toContain('…');
  });

  it('masks the password of a URL in the output', () => {
    const detail = podFailureDetail([
      pod({
        exitCode: 1,
        message: 'cannot connect to postgresql://app:s3cret@db.example:5432/users',
      }),
    ]);
    expect(detail).toContain('postgresql://app:***@db.example:5432/users');
    expect(detail).not.toContain('s3cret');
  });

  it("falls back to the pod's own reason (deadline, eviction), else says nothing", () => {
    expect(
      podFailureDetail([
        pod(undefined, { reason: 'DeadlineExceeded', message: 'Pod was active too long' }),
      ]),
    ).toBe('DeadlineExceeded: Pod was active too long');
    expect(podFailureDetail([])).toBeUndefined();
    expect(
      podFailureDetail([pod({ exitCode: 0, message: 'done' }, { phase: 'Succeeded' })]),
    ).toBeUndefined();
  });
});
