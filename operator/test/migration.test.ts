/**
 * The DatabaseMigration controller against a real kube-apiserver and a real PostgreSQL. There is
 * no kubelet and no Job controller: the test plays both. It waits for the operator's Job, runs
 * the Job's own command (the real `prisma migrate deploy` of user-service, with DATABASE_URL
 * resolved from the Secret the Job refers to) in the folder the image's working directory
 * holds, and then writes the Job's status the way the Job controller would.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import {
  createTestDatabase,
  ensureKubeBinaries,
  eventually,
  repoRoot,
  runCommand,
  type TestDatabase,
} from '@warren/testing';
import type { DatabaseMigration } from '@warren/crds';
import { KubeApiError } from '../src/kube/client';
import type { RunningOperator } from '../src/runtime/operator';
import { applyManifest, startOperatorTestEnv, type OperatorTestEnv } from './support/operator-env';

jest.setTimeout(300_000);

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  command: string[];
  env: EnvVar[];
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: Record<string, unknown>;
}
interface Job {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: { kind: string; name: string; uid: string; controller?: boolean }[];
    creationTimestamp: string;
  };
  spec: {
    backoffLimit: number;
    ttlSecondsAfterFinished?: number;
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        containers: Container[];
        securityContext: Record<string, unknown>;
        restartPolicy: string;
        automountServiceAccountToken?: boolean;
      };
    };
  };
  status?: { conditions?: { type: string; status: string }[] };
}

let env: OperatorTestEnv;
let operator: RunningOperator;
const databases: TestDatabase[] = [];
const IMAGE = 'registry.example/warren/user-service:1.0.0';
const SERVICE_DIR = path.join(repoRoot, 'services/user-service');
const shippedMigrations = fs
  .readdirSync(path.join(SERVICE_DIR, 'prisma/migrations'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

const base = () => `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/databasemigrations`;
const migration = (name: string) => env.admin.get<DatabaseMigration>(`${base()}/${name}`);
const condition = (m: DatabaseMigration, type: string) =>
  m.status?.conditions?.find((c) => c.type === type);
const jobsOf = async (name: string) =>
  (
    await env.admin.list<Job>(`/apis/batch/v1/namespaces/${env.namespace}/jobs`, {
      labelSelector: `warren.dev/database-migration=${name}`,
    })
  ).items.sort(
    (a, b) =>
      Number(a.metadata.annotations['warren.dev/run']) -
      Number(b.metadata.annotations['warren.dev/run']),
  );
const events = async (name: string) =>
  (
    await env.admin.list<{ reason: string; message: string; involvedObject: { name: string } }>(
      `/api/v1/namespaces/${env.namespace}/events`,
    )
  ).items.filter((e) => e.involvedObject.name === name);
const metric = async (line: string) => {
  const port = (operator.server.address() as { port: number }).port;
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  return Number(
    text
      .split('\n')
      .find((l) => l.startsWith(`${line} `))
      ?.split(' ')[1] ?? 0,
  );
};

async function createSecret(name: string, url: string) {
  await env.admin.create(`/api/v1/namespaces/${env.namespace}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: env.namespace },
    stringData: { DATABASE_URL: url },
  });
}

async function createMigration(name: string, secret: string, spec: Record<string, unknown> = {}) {
  await applyManifest(env.admin, {
    apiVersion: 'warren.dev/v1alpha1',
    kind: 'DatabaseMigration',
    metadata: { name, namespace: env.namespace },
    spec: {
      service: 'user-service',
      image: IMAGE,
      database: { secretRef: { name: secret } },
      ...spec,
    },
  });
}

/** The n-th Job of a migration (1-based), once the operator created it. */
const nthJob = (name: string, n: number) =>
  eventually(`Job ${n} of ${name}`, async () => {
    const jobs = await jobsOf(name);
    return jobs.length >= n && jobs[n - 1]!;
  });

/** What a kubelet does with the Job's only container: resolve its env, run its command. */
async function runContainer(job: Job): Promise<{ code: number; output: string }> {
  const container = job.spec.template.spec.containers[0]!;
  const variables: Record<string, string> = {};
  for (const variable of container.env) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) {
      const secret = await env.admin.get<{ data: Record<string, string> }>(
        `/api/v1/namespaces/${job.metadata.namespace}/secrets/${ref.name}`,
      );
      variables[variable.name] = Buffer.from(secret.data[ref.key]!, 'base64').toString('utf8');
    } else {
      variables[variable.name] = variable.value ?? '';
    }
  }
  const [command, ...args] = container.command;
  expect(command).toBe('node');
  // The image's working directory is the service's folder (services/Dockerfile), node_modules
  // two levels up: the repository has the same layout.
  const { code, stdout, stderr } = await runCommand(process.execPath, args, {
    cwd: SERVICE_DIR,
    env: { PATH: process.env.PATH, ...variables },
  });
  return { code, output: stdout + stderr };
}

const statusPath = (job: Job) =>
  `/apis/batch/v1/namespaces/${job.metadata.namespace}/jobs/${job.metadata.name}/status`;
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Runs the Job like the kubelet, then records its end like the Job controller (Kubernetes 1.35 rules). */
async function runJob(job: Job): Promise<{ code: number; output: string }> {
  const startTime = now();
  await env.admin.mergePatch(statusPath(job), { status: { startTime, active: 1 } });
  const result = await runContainer(job);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const at = now();
  const condition = (type: string, reason: string, message: string) => ({
    type,
    status: 'True',
    reason,
    message,
    lastProbeTime: at,
    lastTransitionTime: at,
  });
  if (result.code === 0) {
    await env.admin.mergePatch(statusPath(job), {
      status: {
        active: 0,
        ready: 0,
        succeeded: 1,
        completionTime: at,
        conditions: [
          condition(
            'SuccessCriteriaMet',
            'CompletionsReached',
            'Reached expected number of succeeded pods',
          ),
          condition('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods'),
        ],
      },
    });
  } else {
    await recordFailedPod(job, result);
    await env.admin.mergePatch(statusPath(job), {
      status: {
        active: 0,
        ready: 0,
        failed: 1,
        conditions: [
          condition(
            'FailureTarget',
            'BackoffLimitExceeded',
            'Job has reached the specified backoff limit',
          ),
          condition(
            'Failed',
            'BackoffLimitExceeded',
            'Job has reached the specified backoff limit',
          ),
        ],
      },
    });
  }
  return result;
}

/**
 * The Job's failed pod as the Job controller and the kubelet leave it: the pod carries the Job's
 * labels plus job-name, and FallbackToLogsOnError keeps the last 80 lines (2 KiB at most) of the
 * output as the container's termination message.
 */
async function recordFailedPod(job: Job, result: { code: number; output: string }) {
  const { name, namespace } = job.metadata;
  const pods = `/api/v1/namespaces/${namespace}/pods`;
  await env.admin.create(pods, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${name}-pod`,
      namespace,
      labels: {
        ...job.spec.template.metadata.labels,
        'batch.kubernetes.io/job-name': name,
        'job-name': name,
      },
    },
    spec: job.spec.template.spec,
  });
  const message = Buffer.from(result.output.split('\n').slice(-80).join('\n'))
    .subarray(-2048)
    .toString();
  const container = job.spec.template.spec.containers[0]!;
  await env.admin.mergePatch(`${pods}/${name}-pod/status`, {
    status: {
      phase: 'Failed',
      containerStatuses: [
        {
          name: container.name,
          image: container.image,
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: result.code, reason: 'Error', message } },
        },
      ],
    },
  });
}

async function appliedInDatabase(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const rows = await client.query<{ migration_name: string }>(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY finished_at',
    );
    return rows.rows.map((row) => row.migration_name);
  } finally {
    await client.end();
  }
}

const newDatabase = async (prefix: string) => {
  const database = await createTestDatabase(prefix);
  databases.push(database);
  return database;
};

beforeAll(async () => {
  env = await startOperatorTestEnv('migration');
  operator = await env.startOperator({ migrationRetrySeconds: 1, migrationJobTtlSeconds: 600 });
});

afterAll(async () => {
  await env?.dispose();
  for (const database of databases) await database.dispose().catch(() => undefined);
});

describe('DatabaseMigration', () => {
  let database: TestDatabase;
  let firstJob: Job;

  it('runs prisma migrate deploy as a Job and reports the migrations the database records', async () => {
    database = await newDatabase('dbm_user');
    await createSecret('user-db', database.url);
    await createMigration('user-service', 'user-db');
    const created = await migration('user-service');

    firstJob = await nthJob('user-service', 1);
    const pod = firstJob.spec.template.spec;
    const container = pod.containers[0]!;
    expect(container.image).toBe(IMAGE);
    expect(container.command).toEqual([
      'node',
      '../../node_modules/prisma/build/index.js',
      'migrate',
      'deploy',
      '--schema',
      'prisma',
    ]);
    expect(container.env).toContainEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'user-db', key: 'DATABASE_URL' } },
    });
    // The URL reaches the container only through the Secret.
    expect(JSON.stringify(firstJob)).not.toContain(new URL(database.url).pathname.slice(1));
    expect(firstJob.metadata.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'DatabaseMigration',
        name: 'user-service',
        uid: created.metadata.uid,
        controller: true,
      }),
    ]);
    expect(firstJob.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'warren',
      'warren.dev/database-migration': 'user-service',
      'warren.dev/service': 'user-service',
    });
    expect(firstJob.spec.backoffLimit).toBe(0);
    expect(firstJob.spec.ttlSecondsAfterFinished).toBe(600);
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.resources.requests).toMatchObject({
      cpu: expect.any(String),
      memory: expect.any(String),
    });
    expect(container.resources.limits).toMatchObject({ memory: expect.any(String) });

    const running = await eventually('Reconciling=True JobRunning', async () => {
      const m = await migration('user-service');
      return condition(m, 'Reconciling')?.reason === 'JobRunning' && m;
    });
    expect(condition(running, 'Ready')?.status).toBe('False');

    const run = await runJob(firstJob);
    expect([run.code, run.output]).toEqual([
      0,
      expect.stringContaining('All migrations have been successfully applied'),
    ]);
    expect(await appliedInDatabase(database.url)).toEqual(shippedMigrations);

    const ready = await eventually('Ready=True', async () => {
      const m = await migration('user-service');
      return condition(m, 'Ready')?.status === 'True' && m;
    });
    expect(condition(ready, 'Ready')).toMatchObject({
      reason: 'Succeeded',
      observedGeneration: ready.metadata.generation,
    });
    expect(condition(ready, 'Ready')?.message).toContain(shippedMigrations.at(-1));
    expect(ready.status).toMatchObject({
      observedGeneration: ready.metadata.generation,
      lastJobName: firstJob.metadata.name,
      failures: 0,
      inputHash: expect.stringMatching(/^[0-9a-f]{40}$/),
    });
    expect(ready.status?.appliedMigrations?.map((m) => m.name)).toEqual(shippedMigrations);
    expect(ready.status?.appliedMigrations?.[0]?.appliedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The Event and the count follow the status write: wait for them, then check them.
    const reasons = await eventually('the Succeeded Event', async () => {
      const seen = (await events('user-service')).map((e) => e.reason);
      return seen.includes('Succeeded') && seen;
    });
    expect(reasons).toEqual(expect.arrayContaining(['JobCreated', 'Succeeded']));
    await eventually(
      'the succeeded run counted',
      async () => (await metric('warren_migration_runs_total{result="succeeded"}')) >= 1,
    );
    expect(await metric('warren_migration_runs_total{result="succeeded"}')).toBe(1);
  });

  it('does not run an unchanged input again, and writes nothing at an idle resync', async () => {
    const before = await migration('user-service');
    const start = await metric('warren_reconcile_total{kind="DatabaseMigration",result="success"}');
    await eventually(
      'three more migration reconciles',
      async () =>
        (await metric('warren_reconcile_total{kind="DatabaseMigration",result="success"}')) >=
        start + 3,
      30_000,
    );
    expect((await jobsOf('user-service')).map((j) => j.metadata.name)).toEqual([
      firstJob.metadata.name,
    ]);
    const after = await migration('user-service');
    if (after.metadata.resourceVersion !== before.metadata.resourceVersion)
      expect(after.status).toEqual(before.status);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('runs a new Job when the image changes; kubectl wait (a service initContainer) holds until it ran', async () => {
    const kubectl = (await ensureKubeBinaries({ kubectl: true })).kubectl!;
    const waitReady = (timeout: string) =>
      runCommand(
        kubectl,
        [
          'wait',
          '--for=condition=Ready',
          `--timeout=${timeout}`,
          '-n',
          env.namespace,
          'databasemigration/user-service',
        ],
        { env: env.plane.env },
      ).then(({ code, stderr }) => (code === 0 ? 'Ready' : `not Ready: ${stderr}`));
    expect(await waitReady('5s')).toBe('Ready');
    await env.admin.mergePatch(`${base()}/user-service`, {
      spec: { image: 'registry.example/warren/user-service:1.1.0' },
    });
    // The Ready=True of generation 1 does not count for generation 2.
    expect(await waitReady('1s')).toMatch(/^not Ready: .*timed out/s);
    const second = await nthJob('user-service', 2);
    expect(second.metadata.name).not.toBe(firstJob.metadata.name);
    expect(second.spec.template.spec.containers[0]!.image).toBe(
      'registry.example/warren/user-service:1.1.0',
    );
    const running = await eventually('Ready=False for generation 2', async () => {
      const m = await migration('user-service');
      const ready = condition(m, 'Ready');
      return ready?.observedGeneration === 2 && ready.status === 'False' && m;
    });
    expect(condition(running, 'Ready')?.reason).toBe('JobRunning');
    expect((await runJob(second)).code).toBe(0);
    expect(await waitReady('60s')).toBe('Ready');
    const ready = await eventually('Ready=True again', async () => {
      const m = await migration('user-service');
      return condition(m, 'Ready')?.status === 'True' && m;
    });
    expect(ready.status?.lastJobName).toBe(second.metadata.name);
    expect(ready.status?.appliedMigrations?.map((m) => m.name)).toEqual(shippedMigrations);
  });

  it('counts failed runs, runs again after a backoff, and stalls after spec.backoffLimit', async () => {
    // Nothing listens on port 1: prisma migrate deploy really fails.
    await createSecret('unreachable-db', 'postgresql://postgres@127.0.0.1:1/nothing');
    await createMigration('unreachable', 'unreachable-db', { backoffLimit: 1 });

    const first = await nthJob('unreachable', 1);
    const failed = await runJob(first);
    expect(failed.code).not.toBe(0);
    const afterOne = await eventually('failures=1', async () => {
      const m = await migration('unreachable');
      return m.status?.failures === 1 && m;
    });
    expect(condition(afterOne, 'Ready')).toMatchObject({ status: 'False' });
    expect(condition(afterOne, 'Stalled')?.status).toBe('False');

    const second = await nthJob('unreachable', 2);
    expect(second.metadata.annotations['warren.dev/attempt']).toBe('2');
    expect((await runJob(second)).code).not.toBe(0);
    const stalled = await eventually('Stalled=True BackoffLimitExceeded', async () => {
      const m = await migration('unreachable');
      return condition(m, 'Stalled')?.status === 'True' && m;
    });
    expect(condition(stalled, 'Stalled')?.reason).toBe('BackoffLimitExceeded');
    // Why: the exit code and the end of what prisma migrate deploy printed, read from the pod.
    const lastLine = failed.output.trim().split('\n').pop()!.replace(/\s+/g, ' ').trim();
    expect(lastLine).not.toBe('');
    // (The first failure's own state may already have moved on to attempt 2: its Event stays.)
    const jobFailed = (await events('unreachable')).filter((e) => e.reason === 'JobFailed');
    for (const message of [
      ...jobFailed.map((e) => e.message),
      condition(stalled, 'Ready')?.message,
    ]) {
      expect(message).toContain(`container migrate exited ${failed.code} (Error): `);
      expect(message).toContain(lastLine);
    }
    expect(jobFailed.length).toBeGreaterThan(0);
    expect(condition(stalled, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'BackoffLimitExceeded',
    });
    expect(stalled.status?.failures).toBe(2);
    const reasons = (await events('unreachable')).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['JobFailed', 'BackoffLimitExceeded']));
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(await jobsOf('unreachable')).toHaveLength(2);
    expect(await metric('warren_migration_runs_total{result="failed"}')).toBe(2);
  });

  it('runs one Job at a time per database: the second waits, naming the first, then runs', async () => {
    // Two Secrets, one database: the database's identity is its URL, not the Secret.
    const shared = await newDatabase('dbm_shared');
    await createSecret('shared-db-a', shared.url);
    await createSecret('shared-db-b', shared.url);
    await createMigration('shared-a', 'shared-db-a');
    await createMigration('shared-b', 'shared-db-b');

    const [first, waiting] = await eventually('one Job and one waiting migration', async () => {
      const [a, b] = [await jobsOf('shared-a'), await jobsOf('shared-b')];
      if (a.length + b.length !== 1) return false;
      const [running, other] = a.length === 1 ? ['shared-a', 'shared-b'] : ['shared-b', 'shared-a'];
      const m = await migration(other);
      return (
        condition(m, 'Reconciling')?.reason === 'WaitingForDatabase' && ([running, m] as const)
      );
    });
    expect(condition(waiting, 'Reconciling')?.message).toContain(`${env.namespace}/${first}`);
    expect(condition(waiting, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'WaitingForDatabase',
    });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await jobsOf(waiting.metadata.name)).toHaveLength(0);

    expect((await runJob(await nthJob(first, 1))).code).toBe(0);
    const next = await nthJob(waiting.metadata.name, 1);
    expect((await runJob(next)).code).toBe(0);
    for (const name of ['shared-a', 'shared-b']) {
      const ready = await eventually(`${name} Ready`, async () => {
        const m = await migration(name);
        return condition(m, 'Ready')?.status === 'True' && m;
      });
      expect(ready.status?.appliedMigrations?.map((m) => m.name)).toEqual(shippedMigrations);
    }
  });

  it('names a missing Secret in its conditions, and runs once the Secret exists', async () => {
    await createMigration('no-secret', 'missing-db');
    const missing = await eventually('SecretNotFound', async () => {
      const m = await migration('no-secret');
      return condition(m, 'Ready')?.reason === 'SecretNotFound' && m;
    });
    expect(condition(missing, 'Ready')?.message).toContain(
      `Secret ${env.namespace}/missing-db not found`,
    );
    expect(condition(missing, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'SecretNotFound',
    });
    expect(await jobsOf('no-secret')).toHaveLength(0);

    const late = await newDatabase('dbm_late');
    await createSecret('missing-db', late.url);
    const job = await nthJob('no-secret', 1);
    expect((await runJob(job)).code).toBe(0);
    await eventually('Ready after the Secret appeared', async () => {
      const m = await migration('no-secret');
      return condition(m, 'Ready')?.status === 'True';
    });
  });

  it('runs its Job as spec.job says; a Job the API server refuses stalls it with the reason until the spec is fixed', async () => {
    const shaped = await newDatabase('dbm_shaped');
    await createSecret('shaped-db', shaped.url);
    // A 1Gi memory request over the default 512Mi limit: the API server's Job validation refuses it.
    await createMigration('shaped', 'shaped-db', {
      job: { resources: { requests: { memory: '1Gi' } } },
    });
    const refused = await eventually('JobRejected', async () => {
      const m = await migration('shaped');
      return condition(m, 'Ready')?.reason === 'JobRejected' && m;
    });
    expect(condition(refused, 'Stalled')).toMatchObject({ status: 'True', reason: 'JobRejected' });
    expect(condition(refused, 'Ready')?.message).toMatch(
      /the API server refused the Job: .*resources\.requests.*memory limit/,
    );
    expect(await jobsOf('shaped')).toHaveLength(0);
    expect((await events('shaped')).map((e) => e.reason)).toContain('JobRejected');

    await env.admin.mergePatch(`${base()}/shaped`, {
      spec: {
        job: {
          timeout: '10m',
          serviceAccountName: 'migrator',
          imagePullSecrets: ['registry'],
          resources: { limits: { memory: '2Gi' } },
        },
      },
    });
    const job = await nthJob('shaped', 1);
    expect(job.spec).toMatchObject({
      activeDeadlineSeconds: 600,
      template: {
        spec: {
          serviceAccountName: 'migrator',
          imagePullSecrets: [{ name: 'registry' }],
          automountServiceAccountToken: false,
        },
      },
    });
    expect(job.spec.template.spec.containers[0]!.resources).toEqual({
      requests: { cpu: '100m', memory: '1Gi' },
      limits: { cpu: '1', memory: '2Gi' },
    });
    expect((await runJob(job)).code).toBe(0);
    await eventually(
      'Ready with the fixed spec',
      async () => condition(await migration('shaped'), 'Ready')?.status === 'True',
    );
  });

  it('is refused by the API server without an image, naming the field', async () => {
    const error = await env.admin
      .create(base(), {
        apiVersion: 'warren.dev/v1alpha1',
        kind: 'DatabaseMigration',
        metadata: { name: 'no-image', namespace: env.namespace },
        spec: { service: 'user-service', database: { secretRef: { name: 'user-db' } } },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).status).toBe(422);
    expect((error as KubeApiError).message).toContain('spec.image');
  });
});
