/**
 * Merges the sections the files wrote into results.json in the run's directory, and into the
 * repository's results file (test/reliability/results.json, or RELIABILITY_RESULTS_FILE): each
 * scenario run replaces its own section there, the others stay as last measured. The figures
 * of docs/RELIABILITY.md are rendered from that file (npm run reliability:doc).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR_ENV, RESULTS_FILE, RESULTS_FILE_ENV, runEnvironment } from './figures';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env[RESULTS_DIR_ENV];
  if (!dir) return;
  const started = (globalThis as { reliabilityStarted?: number }).reliabilityStarted;
  const finishedAt = new Date().toISOString();
  const sections: Record<string, Record<string, unknown>> = {};
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.json') || file === 'results.json') continue;
    sections[file.replace(/\.json$/, '')] = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
  }
  const run = {
    finishedAt,
    ...(started === undefined
      ? {}
      : { wallClockSeconds: Math.round((Date.now() - started) / 1000) }),
    ...runEnvironment(),
  };
  const results = { run, ...sections };
  const out = path.join(dir, 'results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nReliability figures (${out}):\n${JSON.stringify(results, null, 2)}\n`);

  if (Object.keys(sections).length === 0) return;
  const repoFile = process.env[RESULTS_FILE_ENV] ?? RESULTS_FILE;
  let previous: { scenarios?: Record<string, unknown> } = {};
  try {
    previous = JSON.parse(readFileSync(repoFile, 'utf8'));
  } catch {
    // First run: no file yet.
  }
  const scenarios: Record<string, unknown> = { ...(previous.scenarios ?? {}) };
  for (const [name, figures] of Object.entries(sections)) scenarios[name] = { run, figures };
  const sorted = Object.fromEntries(
    Object.entries(scenarios).sort(([a], [b]) => a.localeCompare(b)),
  );
  writeFileSync(repoFile, `${JSON.stringify({ scenarios: sorted }, null, 2)}\n`);
  process.stdout.write(`Scenarios updated in ${repoFile}: ${Object.keys(sections).join(', ')}\n`);
}
