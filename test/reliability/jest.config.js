/**
 * The reliability and security suite (`npm run test:reliability`): faults, load, crash,
 * duplicates, fuzzing, egress, secrets, auth. Kept out of `npm test` (its files are `*.rel.ts`,
 * which the main config's testMatch does not pick up). Files run one at a time: the load and
 * crash runs need the whole machine, and their figures are only comparable on a quiet one.
 */
const path = require('node:path');

module.exports = {
  rootDir: path.resolve(__dirname, '../..'),
  testEnvironment: 'node',
  roots: ['<rootDir>/test/reliability'],
  testMatch: ['**/*.rel.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  globalSetup: '<rootDir>/test/reliability/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/reliability/support/global-teardown.ts',
  testTimeout: 120000,
  maxWorkers: 1,
};
