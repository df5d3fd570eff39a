export {
  ensureKubeBinaries,
  cacheDir as kubeToolsCacheDir,
  readPins as readKubePins,
  type KubeBinaries,
  type EnsureOptions,
} from './build';
export {
  ControlPlane,
  startControlPlane,
  newRunDir,
  type ControlPlaneOptions,
  type KubeIdentity,
} from './control-plane';
export { installCrds } from './crds';
export { KubeError } from './proc';
export { ensureKedaCrds, KEDA_VERSION } from './keda';
