/** Merges the sections the files wrote into results.json and prints a short summary. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR_ENV } from './figures';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env[RESULTS_DIR_ENV];
  if (!dir) return;
  const started = (globalThis as { reliabilityStarted?: number }).reliabilityStarted;
  const results: Record<string, unknown> = {
    finishedAt: new Date().toISOString(),
    ...(started === undefined
      ? {}
      : { wallClockSeconds: Math.round((Date.now() - started) / 1000) }),
  };
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.json') || file === 'results.json') continue;
    results[file.replace(/\.json$/, '')] = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
  }
  const out = path.join(dir, 'results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nReliability figures (${out}):\n${JSON.stringify(results, null, 2)}\n`);
}
