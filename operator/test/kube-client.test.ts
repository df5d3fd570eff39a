/**
 * KubeClient against the real API server, authenticated the way a pod is: a ServiceAccount
 * bearer token (the other suites use client certificates), over one kept-alive connection.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { KubeApiError, KubeClient } from '../src/kube/client';
import { controlPlaneForSuite } from './support/control-plane';

jest.setTimeout(120_000);

const suite = controlPlaneForSuite();

/** A client holding only a token for `system:serviceaccount:<namespace>:<name>`. */
async function tokenClient(namespace: string, name: string): Promise<KubeClient> {
  await suite.admin.create('/api/v1/namespaces', { metadata: { name: namespace } });
  await suite.admin.create(`/api/v1/namespaces/${namespace}/serviceaccounts`, {
    metadata: { name },
  });
  const request = await suite.admin.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} },
  );
  // A kubeconfig of the pod's kind: the cluster's CA and server, a bearer token, no certificate.
  const admin = parse(fs.readFileSync(suite.plane.kubeconfigPath, 'utf8'));
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'warren-token-')), 'kubeconfig');
  fs.writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'plane', cluster: admin.clusters[0].cluster }],
      users: [{ name, user: { token: request.status.token } }],
      contexts: [{ name, context: { cluster: 'plane', user: name } }],
      'current-context': name,
    }),
  );
  return KubeClient.fromKubeconfigFile(file);
}

it('sends the bearer token, so the API server sees the ServiceAccount, not an anonymous user', async () => {
  const client = await tokenClient('auth', 'reader');
  const review = await client.create<{ status: { userInfo: { username: string } } }>(
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  );
  expect(review.status.userInfo.username).toBe('system:serviceaccount:auth:reader');
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
