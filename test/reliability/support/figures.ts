/**
 * Figures the suite measured. Each test file records its own section as a JSON file in the
 * results directory (a temp dir made by global-setup.ts); global-teardown.ts merges them into
 * results.json there and prints a summary. docs/RELIABILITY.md carries the figures of a run.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export const RESULTS_DIR_ENV = 'RELIABILITY_RESULTS_DIR';

const sections = new Map<string, Record<string, unknown>>();

/** Adds (or overwrites) figures of a section and writes the section file at once. */
export function recordFigures(section: string, figures: Record<string, unknown>): void {
  const merged = { ...(sections.get(section) ?? {}), ...figures };
  sections.set(section, merged);
  const dir = process.env[RESULTS_DIR_ENV];
  if (!dir) return;
  writeFileSync(path.join(dir, `${section}.json`), `${JSON.stringify(merged, null, 2)}\n`);
}

/** Milliseconds since `start`, rounded. */
export function since(start: number): number {
  return Math.round(performance.now() - start);
}
