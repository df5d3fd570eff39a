export * from './payloads';
export * from './registry';
export * from './envelope';
export * from './json-schema';
