export * from './topology';
export * from './events';
