/**
 * One Jest run for the whole monorepo, in two projects. `unit`: suites named `*.unit.test.ts`,
 * which need no server (`npm run test:unit` runs them alone, in seconds). `integration`: every
 * other suite, against real servers (RabbitMQ, PostgreSQL, Prometheus) that its global setup
 * brings up once per run, and only when one of its suites is selected. Workspace packages
 * resolve to their TypeScript sources through the `warren-source` export condition, so tests
 * never need a build first.
 */
const fs = require('node:fs');
const path = require('node:path');

/** What both projects share. */
const shared = {
  testEnvironment: 'node',
  testEnvironmentOptions: {
    customExportConditions: ['warren-source', 'node', 'require', 'default'],
  },
  roots: ['shared', 'operator', 'services', 'bench']
    .filter((dir) => fs.existsSync(path.join(__dirname, dir)))
    .map((dir) => `<rootDir>/${dir}`),
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
  testTimeout: 60_000,
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['**/*.unit.test.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['**/?(*.)+(spec|test).ts'],
      testPathIgnorePatterns: [...shared.testPathIgnorePatterns, '\\.unit\\.test\\.ts$'],
      globalSetup: '<rootDir>/shared/testing/src/jest/global-setup.ts',
      globalTeardown: '<rootDir>/shared/testing/src/jest/global-teardown.ts',
    },
  ],
  testTimeout: 60_000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/shared/testing/src/jest/summary-reporter.js'],
  verbose: false,
};
