/** One jest config; folders under test/ say what runs where (unit, infra, integration, e2e). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type-checking happens once in `npm run build` (tsc --noEmit); ts-jest only transpiles.
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  testTimeout: 60000,
  // Integration suites start their own stand-ins; two workers keep a 2-core machine responsive.
  maxWorkers: 2,
};
