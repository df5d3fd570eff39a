export {
  ensureKubeBinaries,
  ensureKedaOperator,
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
export { NodeCluster, startNodeCluster, type NodeClusterOptions } from './node';
export { NODE_NETWORK, PAUSE_IMAGE } from './node-config';
export {
  kubectlImage,
  toolboxImage,
  pauseImage,
  TOOLBOX_IMAGE,
  type ImageArchive,
} from './node-images';
export { writeImageArchive, type ImageSpec } from './oci-image';
export { ensureKedaCrds, ensureKedaRbac, KEDA_VERSION } from './keda';
export {
  installKedaOperator,
  kedaOperatorImage,
  KEDA_NAMESPACE,
  KEDA_OPERATOR,
  type KedaInstall,
} from './keda-operator';
