/**
 * An operator test environment: a real kube-apiserver (CRDs installed), a fresh vhost on the
 * real broker, and operators run in-process against both.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { EventRoute } from '@warren/crds';
import {
  ControlPlane,
  createTestVhost,
  ensureKubeBinaries,
  eventually,
  repoRoot,
  type TestVhost,
} from '@warren/testing';
import { KubeClient, KubeApiError } from '../../src/kube/client';
import { brokerSettings } from '../../src/broker/settings';
import { runOperator, type OperatorConfig, type RunningOperator } from '../../src/runtime/operator';

export interface OperatorTestEnv {
  plane: ControlPlane;
  vhost: TestVhost;
  admin: KubeClient;
  namespace: string;
  startOperator(overrides?: Partial<OperatorConfig>): Promise<RunningOperator>;
  dispose(): Promise<void>;
}

export async function startOperatorTestEnv(prefix: string): Promise<OperatorTestEnv> {
  await ensureKubeBinaries();
  const plane = await ControlPlane.start();
  await plane.installCrds(path.join(repoRoot, 'crds'));
  const vhost = await createTestVhost(prefix);
  const admin = KubeClient.fromKubeconfigFile(plane.kubeconfigPath);
  const namespace = 'shop';
  await admin.create('/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: namespace },
  });
  const operators: RunningOperator[] = [];
  let count = 0;
  return {
    plane,
    vhost,
    admin,
    namespace,
    async startOperator(overrides = {}) {
      const operator = await runOperator({
        kubeconfig: plane.kubeconfigPath,
        namespaces: [],
        resyncSeconds: 2,
        finalizerTimeoutSeconds: 30,
        leaseNamespace: 'default',
        leaseName: 'warren-operator',
        leaseDurationSeconds: 4,
        identity: `operator-${++count}`,
        port: 0,
        broker: brokerSettings(
          {},
          { RABBITMQ_URL: vhost.amqpUrl, RABBITMQ_MANAGEMENT_URL: vhost.managementUrl },
        ),
        logLevel: process.env.WARREN_TEST_LOG_LEVEL ?? 'error',
        ...overrides,
      });
      operators.push(operator);
      return operator;
    },
    async dispose() {
      await Promise.all(operators.map((operator) => operator.stop().catch(() => undefined)));
      await vhost.dispose().catch(() => undefined);
      await plane.stop();
    },
  };
}

/** The documents of a YAML file or folder, in the given namespace. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- YAML documents of any kind
export function loadManifests(file: string, namespace: string): Record<string, any>[] {
  const files = fs.statSync(file).isDirectory()
    ? fs
        .readdirSync(file)
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => path.join(file, f))
    : [file];
  return files.flatMap((f) =>
    parseAllDocuments(fs.readFileSync(f, 'utf8'))
      .map((doc) => doc.toJS())
      .filter(Boolean)
      .map((doc) => ({ ...doc, metadata: { ...doc.metadata, namespace } })),
  );
}

const plural = (kind: string) =>
  ({
    EventRoute: 'eventroutes',
    RetryPolicy: 'retrypolicies',
    DatabaseMigration: 'databasemigrations',
  })[kind]!;

export const resourcePath = (
  doc: { kind: string; metadata: { namespace: string; name?: string } },
  name?: string,
) =>
  `/apis/warren.dev/v1alpha1/namespaces/${doc.metadata.namespace}/${plural(doc.kind)}${name ? `/${name}` : ''}`;

/** `kubectl apply` of one document (create, or replace the spec). */
export async function applyManifest(
  client: KubeClient,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- YAML documents of any kind
  doc: Record<string, any>,
): Promise<unknown> {
  try {
    return await client.create(resourcePath(doc as never), doc);
  } catch (error) {
    if (!(error instanceof KubeApiError && error.status === 409)) throw error;
    return client.mergePatch(resourcePath(doc as never, doc.metadata.name), { spec: doc.spec });
  }
}

/** A running operator's /metrics text. */
export async function scrapeOperator(operator: RunningOperator): Promise<string> {
  const port = (operator.server.address() as { port: number }).port;
  return fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
}

/** A metric of a running operator (its /metrics): the unlabelled line of that exact name. */
export async function operatorMetric(operator: RunningOperator, name: string): Promise<number> {
  const text = await scrapeOperator(operator);
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ').pop() ?? 0);
}

/** Applies examples/ into the test namespace and waits until its four routes are Ready. */
export async function applyExamplesUntilReady(env: OperatorTestEnv): Promise<void> {
  for (const doc of loadManifests(path.join(repoRoot, 'examples'), env.namespace))
    await applyManifest(env.admin, doc);
  await eventually('all routes Ready', async () => {
    const list = (
      await env.admin.list<EventRoute>(
        `/apis/warren.dev/v1alpha1/namespaces/${env.namespace}/eventroutes`,
      )
    ).items;
    return (
      list.length === 4 &&
      list.every((r) =>
        r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      )
    );
  });
}

/** Registers a suite's beforeAll/afterAll: a test environment and one operator in it. */
export function operatorSuite(
  prefix: string,
  overrides: Partial<OperatorConfig> = {},
): { env: OperatorTestEnv; operator: RunningOperator } {
  const suite = {} as { env: OperatorTestEnv; operator: RunningOperator };
  beforeAll(async () => {
    suite.env = await startOperatorTestEnv(prefix);
    suite.operator = await suite.env.startOperator(overrides);
  });
  afterAll(async () => {
    await suite.env?.dispose();
  });
  return suite;
}
