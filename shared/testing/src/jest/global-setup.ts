import { startTestServers, type TestServers } from '../environment';
import { ensureKubeBinaries } from '../kube';

declare global {
  var __WARREN_TEST_SERVERS__: TestServers | undefined;
}

/**
 * Runs once before all suites: finds or starts the real servers and exports their URLs, which
 * the test workers (spawned afterwards) inherit through process.env.
 */
export default async function globalSetup(): Promise<void> {
  const log = (line: string) => process.stderr.write(`[warren test env] ${line}\n`);
  const started = Date.now();
  const servers = await startTestServers(log);
  Object.assign(process.env, servers.urls);
  globalThis.__WARREN_TEST_SERVERS__ = servers;
  log(`servers (${servers.source}) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // kube-apiserver, etcd and helm for the operator suites, the node's kubelet,
  // controller-manager, scheduler and kube-proxy, and KEDA's operator for the in-cluster suite:
  // built once from the Go module proxy (10-20 min cold, 8-15 min more for the node, about
  // 10 min for KEDA, with progress), then taken from the cache.
  const kubeStarted = Date.now();
  await ensureKubeBinaries({ kubectl: true, node: true, keda: true, log });
  log(`kube binaries ready in ${((Date.now() - kubeStarted) / 1000).toFixed(1)} s`);
}
