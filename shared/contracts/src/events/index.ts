export * from './payloads';
export * from './registry';
export * from './envelope';
