export {
  buildImages,
  SERVICES,
  DEFAULT_REGISTRY,
  DEFAULT_TAG,
  OPERATOR_IMAGE_NAME,
  type BuildImagesOptions,
  type BuiltImage,
  type BuiltImages,
  type ServiceName as ImageServiceName,
} from './build';
export { DEFAULT_NODE_VERSION, DEFAULT_NPM_VERSION, ensureBaseRootfs } from './base';
export { Dockerd, dockerdArgs, dockerdLayout } from './dockerd';
export { loadImages, type LoadOptions } from './load';
export { withImageBuilder } from './builder-lock';
export { TestContainerd, type RunInContainer } from './containerd';
