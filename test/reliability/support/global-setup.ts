/** Makes the results directory the test files write their figures into (see figures.ts). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RESULTS_DIR_ENV } from './figures';

export default async function globalSetup(): Promise<void> {
  process.env[RESULTS_DIR_ENV] ??= mkdtempSync(path.join(tmpdir(), 'webhooks-reliability-'));
  (globalThis as { reliabilityStarted?: number }).reliabilityStarted = Date.now();
}
