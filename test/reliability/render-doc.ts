/**
 * Renders docs/RELIABILITY.md, the whole of it, from its template (test/reliability/doc-template.md,
 * prose without figures) and the reliability suite's results file (test/reliability/results.json),
 * so every number the document quotes is one a run measured.
 *
 *   npm run reliability:doc            rewrite the document
 *   npm run reliability:doc -- --check exit 1 when the document is not what they render
 *
 * `<!-- figures:<scenario> -->` in the template becomes that scenario's table (nested figures as
 * dotted names), headed by the run it comes from; `<!-- figures:others -->` gets every scenario
 * the template does not place, so a scenario added to the suite appears without changes here.
 * `<!-- rendered -->` becomes a note saying the file is rendered.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const DOC_FILE = path.resolve(__dirname, '../../docs/RELIABILITY.md');
export const TEMPLATE_FILE = path.resolve(__dirname, 'doc-template.md');
export const RESULTS_FILE = path.resolve(__dirname, 'results.json');

export const RENDERED_NOTE =
  '<!-- Rendered by `npm run reliability:doc` from test/reliability/doc-template.md and test/reliability/results.json: edit those, not this file. -->';
const PLACEHOLDER = /^<!-- figures:([A-Za-z0-9_-]+) -->$/gm;
const OTHERS = 'others';

export interface Results {
  readonly scenarios: Readonly<
    Record<string, { run: Record<string, unknown>; figures: Record<string, unknown> }>
  >;
}

function flatten(value: unknown, prefix: string, out: [string, string][]): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out.push([prefix, typeof value === 'string' ? value : JSON.stringify(value)]);
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** One scenario's figures: the run they come from, then a table of every figure. */
export function renderScenario(
  name: string,
  scenario: Results['scenarios'][string] | undefined,
): string {
  if (scenario === undefined) {
    return `_No figures of \`${name}\` in the results file yet: run its file, then \`npm run reliability:doc\`._\n`;
  }
  const { run, figures } = scenario;
  const rows: [string, string][] = [];
  flatten(figures, '', rows);
  const where = [
    `measured ${String(run.finishedAt ?? '?')}`,
    run.wallClockSeconds !== undefined ? `run wall clock ${String(run.wallClockSeconds)} s` : '',
    run.node ? `Node ${String(run.node)}` : '',
    run.cpus ? `${String(run.cpus)} CPUs` : '',
    run.loadAverage1m !== undefined ? `load average ${String(run.loadAverage1m)}` : '',
    run.commit ? `commit ${String(run.commit)}` : '',
  ].filter((x) => x !== '');
  return [
    `${where.join(', ')}.`,
    '',
    '| figure | value |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`),
    '',
  ].join('\n');
}

/** The document: the template with its placeholders replaced by the results' figures. */
export function renderDoc(template: string, results: Results): string {
  const placed = new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!));
  const others = Object.keys(results.scenarios)
    .filter((name) => !placed.has(name))
    .map((name) => `## ${name}\n\n${renderScenario(name, results.scenarios[name])}`)
    .join('\n');
  const rendered = template
    .replace(PLACEHOLDER, (_m, name: string) =>
      name === OTHERS ? others.trimEnd() : renderScenario(name, results.scenarios[name]).trimEnd(),
    )
    .replace('<!-- rendered -->', RENDERED_NOTE);
  // A placeholder with nothing to place leaves no run of blank lines behind.
  return rendered.replace(/\n{3,}/g, '\n\n');
}

/**
 * Numbers in the template's prose, outside code spans, fences and list markers: it must hold
 * none (figures come from the results file; a constant of the code goes in backticks).
 */
export function numbersInProse(template: string): string[] {
  const prose = template
    .replace(/```[\s\S]*?```/g, '')
    .replace(/`[^`\n]*`/g, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/^ *\d+\. /gm, '');
  return [...prose.matchAll(/(?<![\w.-])\d[\d,.]*(?![\w])/g)].map((m) => m[0]);
}

if (require.main === module) {
  const results = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Results;
  const rendered = renderDoc(readFileSync(TEMPLATE_FILE, 'utf8'), results);
  if (process.argv.includes('--check')) {
    if (rendered !== readFileSync(DOC_FILE, 'utf8')) {
      process.stderr.write(
        `${DOC_FILE} is not what ${TEMPLATE_FILE} and ${RESULTS_FILE} render: run npm run reliability:doc\n`,
      );
      process.exit(1);
    }
  } else {
    writeFileSync(DOC_FILE, rendered);
    process.stdout.write(`${DOC_FILE}: figures of ${Object.keys(results.scenarios).join(', ')}\n`);
  }
}
