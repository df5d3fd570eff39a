/**
 * One Jest run for the whole monorepo. Workspace packages resolve to their TypeScript sources
 * through the `warren-source` export condition, so tests never need a build first.
 * The global setup brings up real servers (RabbitMQ, PostgreSQL, Prometheus) once per run.
 */
const fs = require('node:fs');
const path = require('node:path');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  testEnvironmentOptions: {
    customExportConditions: ['warren-source', 'node', 'require', 'default'],
  },
  roots: ['shared', 'operator', 'services', 'bench']
    .filter((dir) => fs.existsSync(path.join(__dirname, dir)))
    .map((dir) => `<rootDir>/${dir}`),
  testMatch: ['**/?(*.)+(spec|test).ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.(t|j)sx?$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  // ESM-only dependencies are compiled to CommonJS for Jest.
  transformIgnorePatterns: [
    '/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose)/)',
  ],
  globalSetup: '<rootDir>/shared/testing/src/jest/global-setup.ts',
  globalTeardown: '<rootDir>/shared/testing/src/jest/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/shared/testing/src/jest/summary-reporter.js'],
  verbose: false,
};
