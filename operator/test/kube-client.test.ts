/**
 * KubeClient against the real API server, authenticated the way a pod is: a ServiceAccount
 * bearer token (the other suites use client certificates), over one kept-alive connection.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { KubeApiError, KubeClient } from '../src/kube/client';
import { inClusterConnection } from '../src/kube/connection';
import { controlPlaneForSuite } from './support/control-plane';

jest.setTimeout(120_000);

const suite = controlPlaneForSuite();

/** A token for `system:serviceaccount:<namespace>:<name>` (both made here). */
async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  await suite.admin.create('/api/v1/namespaces', { metadata: { name: namespace } });
  await suite.admin.create(`/api/v1/namespaces/${namespace}/serviceaccounts`, {
    metadata: { name },
  });
  const request = await suite.admin.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} },
  );
  return request.status.token;
}

/** The admin kubeconfig's cluster entry: server and CA. */
const adminCluster = () =>
  parse(fs.readFileSync(suite.plane.kubeconfigPath, 'utf8')).clusters[0].cluster as {
    server: string;
    'certificate-authority'?: string;
    'certificate-authority-data'?: string;
  };
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'warren-kube-client-'));

/** A client holding only a token, from a kubeconfig of the pod's kind (no certificate). */
async function tokenClient(namespace: string, name: string): Promise<KubeClient> {
  const token = await serviceAccountToken(namespace, name);
  const file = path.join(tempDir(), 'kubeconfig');
  fs.writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'plane', cluster: adminCluster() }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: 'plane', user: name } }],
      'current-context': name,
    }),
  );
  return KubeClient.fromKubeconfigFile(file);
}

const whoAmI = async (client: KubeClient) =>
  (
    await client.create<{ status: { userInfo: { username: string } } }>(
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    )
  ).status.userInfo.username;

it('runs in a pod on the mounted ServiceAccount, reading its token anew for each request', async () => {
  const cluster = adminCluster();
  const dir = tempDir();
  fs.writeFileSync(
    path.join(dir, 'ca.crt'),
    cluster['certificate-authority-data']
      ? Buffer.from(cluster['certificate-authority-data'], 'base64')
      : fs.readFileSync(cluster['certificate-authority']!),
  );
  fs.writeFileSync(path.join(dir, 'token'), await serviceAccountToken('pod', 'first'));
  const server = new URL(cluster.server);
  const saved = {
    host: process.env.KUBERNETES_SERVICE_HOST,
    port: process.env.KUBERNETES_SERVICE_PORT,
  };
  process.env.KUBERNETES_SERVICE_HOST = server.hostname;
  process.env.KUBERNETES_SERVICE_PORT = server.port;
  try {
    const client = new KubeClient(inClusterConnection(dir));
    expect(await whoAmI(client)).toBe('system:serviceaccount:pod:first');
    // The kubelet rotates the projected token: the next request carries the new one.
    await suite.admin.create('/api/v1/namespaces/pod/serviceaccounts', {
      metadata: { name: 'second' },
    });
    const second = await suite.admin.create<{ status: { token: string } }>(
      '/api/v1/namespaces/pod/serviceaccounts/second/token',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} },
    );
    fs.writeFileSync(path.join(dir, 'token'), second.status.token);
    expect(await whoAmI(client)).toBe('system:serviceaccount:pod:second');
  } finally {
    process.env.KUBERNETES_SERVICE_HOST = saved.host;
    process.env.KUBERNETES_SERVICE_PORT = saved.port;
    if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
    if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
  }
});

it('sends the bearer token, so the API server sees the ServiceAccount, not an anonymous user', async () => {
  const client = await tokenClient('auth', 'reader');
  expect(await whoAmI(client)).toBe('system:serviceaccount:auth:reader');
  // Authenticated but not authorised: 403 naming the account (an anonymous user gets 401 or
  // a message about system:anonymous).
  const refused = await client.list('/api/v1/namespaces/auth/secrets').catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(KubeApiError);
  expect((refused as KubeApiError).status).toBe(403);
  expect((refused as KubeApiError).message).toContain('system:serviceaccount:auth:reader');
});

it('reuses its connection across requests', async () => {
  const sockets = new Set<unknown>();
  const client = suite.newClient();
  for (let i = 0; i < 20; i++) {
    await client.get('/api/v1/namespaces/default');
    const agent = (await client.connection.agent()) as unknown as {
      freeSockets: Record<string, unknown[]>;
    };
    for (const list of Object.values(agent.freeSockets)) for (const s of list) sockets.add(s);
  }
  expect(sockets.size).toBe(1);
});
