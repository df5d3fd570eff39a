export * from './services';
export * from './databases';
export * from './broker';
export * from './platform';
export * from './isolated';
export * from './monitoring';
