/** Makes the results directory the test files write their figures into (see figures.ts). */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RESULTS_DIR_ENV } from './figures';

export default async function globalSetup(): Promise<void> {
  const given = process.env[RESULTS_DIR_ENV];
  if (given) mkdirSync(given, { recursive: true });
  else process.env[RESULTS_DIR_ENV] = mkdtempSync(path.join(tmpdir(), 'webhooks-reliability-'));
  (globalThis as { reliabilityStarted?: number }).reliabilityStarted = Date.now();
}
