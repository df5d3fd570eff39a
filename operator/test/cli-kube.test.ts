/**
 * `warren --kube` and `kubectl warren` against a real API server and the real broker: routes and
 * retry policies from the cluster (-n, --all-namespaces), the broker from the operator's
 * `warren-broker` Secret, and clear errors for a user whose RBAC reads routes but not Secrets.
 */
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import type { WarrenResource } from '@warren/crds';
import type { KubeIdentity, TestVhost } from '@warren/testing';
import { ControlPlane, createTestVhost, ensureKubeBinaries, repoRoot } from '@warren/testing';
import { loadResources } from '../src/cli/load';
import { collectionPath } from '../src/controller/resources';
import { KubeClient } from '../src/kube/client';
import { EXAMPLES } from './resources';
import { warren, writeResources } from './broker-helpers';

const ROUTE = 'user-created-to-notification';
const QUEUE = `notification-service.${ROUTE}`;
const plural = (resource: WarrenResource) =>
  resource.kind === 'EventRoute' ? 'eventroutes' : 'retrypolicies';

describe('warren against the cluster (--kube, kubectl warren)', () => {
  let plane: ControlPlane;
  let admin: KubeClient;
  let vhost: TestVhost;
  let shop: WarrenResource[];
  let adminArgs: string[];

  /** Creates `resources` in `namespace` as the admin. */
  const create = async (resources: WarrenResource[], namespace: string) => {
    for (const resource of resources) {
      const { metadata, ...rest } = structuredClone(resource);
      await admin.create(collectionPath(plural(resource), namespace), {
        ...rest,
        metadata: { name: metadata.name, namespace },
      });
    }
  };

  beforeAll(async () => {
    await ensureKubeBinaries({ kubectl: true });
    plane = await ControlPlane.start();
    await plane.installCrds(resolve(repoRoot, 'crds'));
    admin = KubeClient.fromKubeconfigFile(plane.kubeconfigPath);
    vhost = await createTestVhost('cli_kube');
    for (const name of ['shop', 'billing']) {
      await admin.create('/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name },
      });
    }
    const examples = (await loadResources(EXAMPLES)).resources;
    shop = examples.map((r) => ({ ...r, metadata: { ...r.metadata, namespace: 'shop' } }));
    await create(shop, 'shop');
    // billing: the retry policy and one route of its own.
    await create(
      examples
        .filter((r) => r.kind === 'RetryPolicy' || r.metadata.name === ROUTE)
        .map((r) =>
          r.kind === 'EventRoute'
            ? { ...r, metadata: { ...r.metadata, name: 'billing-welcome' } }
            : r,
        ),
      'billing',
    );
    // The operator's broker Secret, as the chart expects it.
    const base64 = (text: string) => Buffer.from(text).toString('base64');
    await admin.create('/api/v1/namespaces/shop/secrets', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'warren-broker', namespace: 'shop' },
      data: { url: base64(vhost.amqpUrl), managementUrl: base64(vhost.managementUrl) },
    });
    adminArgs = ['--kubeconfig', plane.kubeconfigPath];
  }, 300_000);

  afterAll(async () => {
    await vhost?.dispose();
    await plane?.stop();
  });

  /** No broker in the environment: it must come from the Secret. */
  const kube = (args: string[], kubeconfig = plane.kubeconfigPath) =>
    warren([...args, '--kubeconfig', kubeconfig], {}, {});

  it('plans the namespace from the cluster with the broker of the Secret; after apply, no changes', async () => {
    const before = await kube(['plan', '--kube', '-n', 'shop', '--detailed-exitcode']);
    expect(before.err).toBe('');
    expect(before.code).toBe(2);
    expect(before.out).toContain(`+ queue ${QUEUE} (vhost ${vhost.vhost})`);
    expect(before.out).not.toContain('billing-welcome');

    // The same resources applied from files: the cluster's view then matches the broker.
    const applied = await warren(['apply', '-f', await writeResources(shop)], {
      RABBITMQ_URL: vhost.amqpUrl,
      RABBITMQ_MANAGEMENT_URL: vhost.managementUrl,
      WARREN_PASSWORD_USER_SERVICE: 'u',
      WARREN_PASSWORD_ORDER_SERVICE: 'o',
      WARREN_PASSWORD_NOTIFICATION_SERVICE: 'n',
    });
    expect(applied.code).toBe(0);
    const after = await kube(['plan', '--kube', '-n', 'shop', '--detailed-exitcode']);
    expect(after).toMatchObject({ code: 0, err: '' });
    expect(after.out).toMatch(/^No changes/m);

    const status = await kube(['status', '--kube', '-n', 'shop', '-o', 'yaml']);
    expect(status.code).toBe(0);
    expect(status.out).toContain(`route: shop/${ROUTE}`);
  });

  it('reads every namespace with --all-namespaces (the broker Secret of the context namespace or --broker-secret)', async () => {
    const all = await kube(['plan', '-A', '--kube', '--broker-secret', 'shop/warren-broker']);
    expect(all.err).toBe('');
    expect(all.out).toContain('+ queue notification-service.billing-welcome');
    // The context has no namespace: "default", which has no broker Secret.
    const missing = await kube(['plan', '--kube', '-A']);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(
      'warren: no broker Secret default/warren-broker (the operator\'s broker Secret): pass --management-url and --rabbitmq-url (or set RABBITMQ_MANAGEMENT_URL and RABBITMQ_URL), or --broker-secret NAMESPACE/NAME: secrets "warren-broker" not found',
    );
  });

  it('lists and redrives dead letters of a route found in the cluster', async () => {
    const connection = await connect(vhost.amqpUrl);
    const channel = await connection.createConfirmChannel();
    channel.sendToQueue(`${QUEUE}.dlq`, Buffer.from('{}'), { messageId: 'm-1' });
    await channel.waitForConfirms();
    try {
      const listed = await kube(['dead-letters', '--kube', '-n', 'shop', '--route', ROUTE]);
      expect(listed.err).toBe('');
      expect(listed.out).toMatch(new RegExp(`^${QUEUE}\\.dlq: 1 dead letter`));
      const redriven = await kube(['redrive', '--kube', '-n', 'shop', '--route', ROUTE]);
      expect(redriven.code).toBe(0);
      expect(redriven.out).toContain(`Redrove 1 message from ${QUEUE}.dlq to ${QUEUE}.`);
      expect((await channel.checkQueue(QUEUE)).messageCount).toBe(1);
      await channel.purgeQueue(QUEUE);
    } finally {
      await connection.close();
    }
  });

  it('runs as `kubectl warren` (the kubectl-warren bin on PATH), which implies --kube', async () => {
    const { kubectl } = await ensureKubeBinaries({ kubectl: true });
    const bin = resolve(repoRoot, 'node_modules/.bin');
    const { stdout } = await promisify(execFile)(
      kubectl!,
      ['warren', 'plan', '-n', 'shop', ...adminArgs, '-o', 'json'],
      {
        env: { PATH: [bin, dirname(process.execPath), '/usr/bin', '/bin'].join(':'), HOME: '/tmp' },
      },
    );
    expect(JSON.parse(stdout)).toMatchObject({ hasChanges: false });
    const help = await warren(['--help'], {}, { invokedAs: 'kubectl-warren' });
    expect(help.out).toMatch(/^Usage: kubectl warren <command> \[-n NAMESPACE \| -A\]/);
  });

  describe('under a user who may read routes but not Secrets', () => {
    let reader: KubeIdentity;

    beforeAll(async () => {
      reader = await plane.mintIdentity('route-reader');
      await admin.create('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'warren-route-reader' },
        rules: [
          {
            apiGroups: ['warren.dev'],
            resources: ['eventroutes', 'retrypolicies'],
            verbs: ['get', 'list'],
          },
        ],
      });
      await admin.create('/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings', {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'route-reader', namespace: 'shop' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'warren-route-reader',
        },
        subjects: [{ kind: 'User', name: reader.user, apiGroup: 'rbac.authorization.k8s.io' }],
      });
    });

    it('names the Secret and the missing permission, and works once given the broker', async () => {
      const refused = await kube(['plan', '--kube', '-n', 'shop'], reader.kubeconfigPath);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(
        /^warren: cannot read the broker Secret shop\/warren-broker: forbidden \(needs "get" on secrets\/warren-broker in namespace shop\): .*User "route-reader" cannot get resource "secrets".*The routes are readable; for the broker pass --management-url and --rabbitmq-url/,
      );
      const given = await kube(
        [
          'plan',
          '--kube',
          '-n',
          'shop',
          '--detailed-exitcode',
          '--management-url',
          vhost.managementUrl,
          '--rabbitmq-url',
          vhost.amqpUrl,
        ],
        reader.kubeconfigPath,
      );
      expect(given).toMatchObject({ code: 0, err: '' });
    });

    it('names the namespace it may not list routes in', async () => {
      const refused = await kube(['plan', '--kube', '-n', 'billing'], reader.kubeconfigPath);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(
        /^warren: cannot list eventroutes: forbidden: .*\(needs "list eventroutes.warren.dev" in namespace billing of context /,
      );
    });
  });
});
