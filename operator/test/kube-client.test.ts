/**
 * KubeClient against the real API server, authenticated the way a pod is: a ServiceAccount
 * bearer token (the other suites use client certificates), over one kept-alive connection.
 */
import { KubeConfig } from '@kubernetes/client-node';
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
  const cluster = suite.admin.config.getCurrentCluster()!;
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [cluster],
    users: [{ name, token: request.status.token }],
    contexts: [{ name, cluster: cluster.name, user: name }],
    currentContext: name,
  });
  return new KubeClient(config);
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
    const agent = (client as unknown as { agent: { freeSockets: Record<string, unknown[]> } })
      .agent;
    for (const list of Object.values(agent.freeSockets)) for (const s of list) sockets.add(s);
  }
  expect(sockets.size).toBe(1);
});
