export * from './infra';
export { startTestServers, type TestServers, type ServerSource } from './environment';
export {
  createTestVhost,
  createTestDatabase,
  queryDatabase,
  uniqueName,
  type TestVhost,
  type TestDatabase,
} from './isolation';
export { brokerVersion, managementRequest } from './management';
export { eventually } from './eventually';
export { withBrokerFault } from './fault-lock';
export * from './kube';
export * from './images';
