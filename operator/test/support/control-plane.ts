/** A real API server for one suite: started before its tests, stopped after them. */
import { ControlPlane, ensureKubeBinaries } from '@warren/testing';
import { KubeClient } from '../../src/kube/client';

export interface SuitePlane {
  plane: ControlPlane;
  /** A client with the cluster-admin kubeconfig. */
  admin: KubeClient;
  /** A new client with the same kubeconfig (its own connections). */
  newClient(): KubeClient;
}

/** Registers the suite's beforeAll/afterAll; the fields are there once beforeAll ran. */
export function controlPlaneForSuite(): SuitePlane {
  const suite = {
    newClient: () => KubeClient.fromKubeconfigFile(suite.plane.kubeconfigPath),
  } as SuitePlane;
  beforeAll(async () => {
    await ensureKubeBinaries();
    suite.plane = await ControlPlane.start();
    suite.admin = suite.newClient();
  });
  afterAll(async () => {
    await suite.plane?.stop();
  });
  return suite;
}
