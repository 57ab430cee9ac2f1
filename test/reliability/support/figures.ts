/**
 * Figures the suite measured. Each test file records its own section (one figures object per
 * scenario) as a JSON file in the results directory (a temp dir made by global-setup.ts);
 * global-teardown.ts merges them into the repository's results file, from which
 * docs/RELIABILITY.md's figures are rendered (test/reliability/render-doc.ts). A new scenario
 * only calls recordFigures('<scenario>', {...}).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const RESULTS_DIR_ENV = 'RELIABILITY_RESULTS_DIR';
export const RESULTS_FILE_ENV = 'RELIABILITY_RESULTS_FILE';
/** The repository's results file: every scenario's latest figures, with the run they come from. */
export const RESULTS_FILE = path.resolve(__dirname, '..', 'results.json');

/** The machine and versions a run measured on (figures are only comparable on like machines). */
export function runEnvironment(): Record<string, unknown> {
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: path.resolve(__dirname, '../../..'),
      encoding: 'utf8',
    }).trim();
  } catch {
    commit = undefined;
  }
  return {
    node: process.version,
    cpus: os.cpus().length,
    loadAverage1m: Math.round(os.loadavg()[0]! * 10) / 10,
    ...(commit ? { commit } : {}),
  };
}

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
