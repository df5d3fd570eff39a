/**
 * KEDA's own operator in a pod of a node cluster (NodeCluster): the binary built from KEDA's Go
 * module (tools/keda), an image FROM scratch holding it and the host's CA bundle, KEDA's CRDs,
 * and its ServiceAccount, ClusterRole and Role exactly as KEDA's config/rbac has them. The
 * Deployment follows KEDA's config/manager/manager.yaml, except: the local image, and the
 * certificates of its metrics gRPC server made here (`--enable-cert-rotation=false`: rotation
 * exists to patch the metrics APIService and the admission webhook, neither of which runs here).
 * The operator alone scales 0 <-> 1 (activation); 1 -> N is the HPA's, which needs KEDA's
 * metrics adapter behind the aggregated external.metrics.k8s.io API (not run: see
 * docs/kube-test-environment.md).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureKedaOperator } from './build';
import { createCa, issueCert } from './certs';
import { applyObjects, installCrds } from './crds';
import { ensureKedaCrds, ensureKedaRbac, KEDA_VERSION } from './keda';
import type { NodeCluster } from './node';
import { staticBinaryImage, type ImageArchive } from './node-images';
import { KubeError, seconds, waitUntil } from './proc';

/** Where KEDA's config/rbac puts it (its Role is namespaced there). */
export const KEDA_NAMESPACE = 'keda';
export const KEDA_OPERATOR = 'keda-operator';
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** KEDA's operator FROM scratch: `/keda` (as in KEDA's image) and the CA bundle, when the host has one. */
export const kedaOperatorImage = (binary: string): ImageArchive =>
  staticBinaryImage({
    name: `warren.local/keda:${KEDA_VERSION}`,
    binary,
    at: '/keda',
    cacheName: 'keda-image',
    files: fs.existsSync(CA_BUNDLE) ? [CA_BUNDLE] : [],
  });

export interface KedaInstall {
  namespace: string;
  deployment: string;
  image: string;
  /** From the first object applied until the Deployment was Available. */
  readyMs: number;
}

/**
 * Installs KEDA's operator into `node` and waits until its Deployment is Available. The binary
 * must be built already or is built here (the Jest global setup builds it first).
 */
export async function installKedaOperator(
  node: NodeCluster,
  log: (line: string) => void = (line) => process.stderr.write(`[warren keda] ${line}\n`),
): Promise<KedaInstall> {
  const imported = Date.now();
  const image = kedaOperatorImage(await ensureKedaOperator(log));
  await node.importImage(image.archive);
  log(`KEDA operator image ${image.name} made and imported in ${seconds(Date.now() - imported)}`);
  const started = Date.now();
  await installCrds(node.kubeconfigPath, await ensureKedaCrds());
  await applyObjects(node.kubeconfigPath, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: KEDA_NAMESPACE } },
  ]);
  await installCrds(node.kubeconfigPath, await ensureKedaRbac());
  await applyObjects(node.kubeconfigPath, [
    await metricsServerCertificates(),
    operatorDeployment(image.name),
  ]);
  const available = await waitUntil(() => deploymentAvailable(node), 3 * 60_000, 1000);
  if (!available)
    throw new KubeError(
      `KEDA's operator was not Available within 3 min: kubectl -n ${KEDA_NAMESPACE} logs deploy/${KEDA_OPERATOR}`,
    );
  const readyMs = Date.now() - started;
  log(`KEDA operator ${KEDA_VERSION} Available in ${seconds(readyMs)}`);
  return { namespace: KEDA_NAMESPACE, deployment: KEDA_OPERATOR, image: image.name, readyMs };
}

async function deploymentAvailable(node: NodeCluster): Promise<boolean> {
  const { status, body } = await node.apiGet(
    `/apis/apps/v1/namespaces/${KEDA_NAMESPACE}/deployments/${KEDA_OPERATOR}`,
  );
  const conditions = (body as { status?: { conditions?: { type: string; status: string }[] } })
    ?.status?.conditions;
  return (
    status === 200 &&
    Boolean(conditions?.some((c) => c.type === 'Available' && c.status === 'True'))
  );
}

/**
 * The operator serves its metrics over mutual TLS (for the adapter) and will not start without
 * `ca.crt`, `tls.crt`, `tls.key` in /certs: the Secret KEDA's rotation would make (`kedaorg-certs`).
 */
async function metricsServerCertificates() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-keda-certs-'));
  try {
    const ca = await createCa(dir);
    const names = [KEDA_OPERATOR, `${KEDA_OPERATOR}.${KEDA_NAMESPACE}.svc`];
    const leaf = await issueCert(ca, dir, KEDA_OPERATOR, `/CN=${KEDA_OPERATOR}`, [
      'extendedKeyUsage = serverAuth, clientAuth',
      `subjectAltName = ${names.map((name) => `DNS:${name}`).join(', ')}`,
    ]);
    const read = (file: string) => fs.readFileSync(file, 'utf8');
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'kedaorg-certs', namespace: KEDA_NAMESPACE },
      stringData: {
        'ca.crt': read(ca.cert),
        'tls.crt': read(leaf.cert),
        'tls.key': read(leaf.key),
      },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** KEDA's config/manager/manager.yaml with the local image and no certificate rotation. */
function operatorDeployment(image: string) {
  const labels = { app: KEDA_OPERATOR, 'app.kubernetes.io/name': KEDA_OPERATOR };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: KEDA_OPERATOR,
      namespace: KEDA_NAMESPACE,
      labels: { ...labels, 'app.kubernetes.io/version': KEDA_VERSION },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: KEDA_OPERATOR } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: KEDA_OPERATOR,
          // KEDA's image runs as a non-root user; FROM scratch there is no passwd to name one.
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              name: KEDA_OPERATOR,
              image,
              imagePullPolicy: 'Never',
              command: ['/keda'],
              args: [
                '--leader-elect',
                '--zap-log-level=info',
                '--zap-encoder=console',
                '--zap-time-encoding=rfc3339',
                '--enable-cert-rotation=false',
              ],
              env: [
                {
                  name: 'POD_NAMESPACE',
                  valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
                },
                { name: 'WATCH_NAMESPACE', value: '' },
              ],
              ports: [{ containerPort: 8080, name: 'http', protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/readyz', port: 8081 }, periodSeconds: 2 },
              livenessProbe: { httpGet: { path: '/healthz', port: 8081 }, initialDelaySeconds: 25 },
              resources: {
                requests: { cpu: '100m', memory: '100Mi' },
                limits: { cpu: '1000m', memory: '1000Mi' },
              },
              securityContext: {
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumeMounts: [{ mountPath: '/certs', name: 'certificates', readOnly: true }],
            },
          ],
          volumes: [{ name: 'certificates', secret: { secretName: 'kedaorg-certs' } }],
        },
      },
    },
  };
}
