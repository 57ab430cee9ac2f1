/**
 * The operator console in a real browser (`npm run test:browser`): Debian's chromium driven by
 * playwright-core against local mode. Kept out of `npm test` because it needs the chromium
 * package (`.ci/run` installs it); the main config's testMatch does not pick up `*.browser.ts`.
 */
const path = require('node:path');

module.exports = {
  rootDir: path.resolve(__dirname, '../..'),
  testEnvironment: 'node',
  roots: ['<rootDir>/test/browser'],
  testMatch: ['**/*.browser.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  testTimeout: 120000,
  maxWorkers: 1,
};
