/**
 * Renders the figures section of docs/RELIABILITY.md from the reliability suite's results file
 * (test/reliability/results.json), so every number the document quotes is one a run measured.
 *
 *   npm run reliability:doc            rewrite the section
 *   npm run reliability:doc -- --check exit 1 when the document is not what the file renders
 *
 * Every scenario in the file gets a table (nested figures as dotted names), headed by the run
 * it comes from; a scenario added to the suite appears without changes here.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const DOC_FILE = path.resolve(__dirname, '../../docs/RELIABILITY.md');
export const RESULTS_FILE = path.resolve(__dirname, 'results.json');
export const BEGIN =
  '<!-- figures:begin (rendered by `npm run reliability:doc` from test/reliability/results.json; do not edit by hand) -->';
export const END = '<!-- figures:end -->';

/** Titles of the known scenarios; any other scenario is titled by its name. */
const TITLES: Readonly<Record<string, string>> = {
  receiverFaults: 'Receiver faults (`receiver-faults.rel.ts`)',
  localMode: 'Load, SIGKILL and restart, auth, secrets in local mode (`local-mode.rel.ts`)',
  duplicates: 'Duplicates (`duplicates.rel.ts`)',
  fuzz: 'Bad input (`fuzz.rel.ts`)',
  egress: 'Egress (`egress.rel.ts`)',
  outage: 'Destination outage during the 20,000-event load (`outage.rel.ts`)',
};

interface Results {
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

export function renderFigures(results: Results): string {
  const parts: string[] = [];
  for (const [name, { run, figures }] of Object.entries(results.scenarios)) {
    const rows: [string, string][] = [];
    flatten(figures, '', rows);
    const where = [
      `measured ${String(run.finishedAt ?? '?')}`,
      run.node ? `Node ${String(run.node)}` : undefined,
      run.cpus ? `${String(run.cpus)} CPUs` : undefined,
      run.loadAverage1m !== undefined ? `load average ${String(run.loadAverage1m)}` : undefined,
      run.commit ? `commit ${String(run.commit)}` : undefined,
    ].filter((x) => x !== undefined);
    parts.push(
      `#### ${TITLES[name] ?? name}`,
      '',
      `${where.join(', ')}.`,
      '',
      '| figure | value |',
      '|---|---|',
      ...rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`),
      '',
    );
  }
  return parts.join('\n');
}

/** `doc` with the text between the markers replaced by the rendered figures. */
export function renderDoc(doc: string, results: Results): string {
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${DOC_FILE} lacks the figures markers`);
  return `${doc.slice(0, begin + BEGIN.length)}\n\n${renderFigures(results)}${doc.slice(end)}`;
}

if (require.main === module) {
  const results = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Results;
  const doc = readFileSync(DOC_FILE, 'utf8');
  const rendered = renderDoc(doc, results);
  if (process.argv.includes('--check')) {
    if (rendered !== doc) {
      process.stderr.write(
        `${DOC_FILE} is not rendered from ${RESULTS_FILE}: run npm run reliability:doc\n`,
      );
      process.exit(1);
    }
  } else {
    writeFileSync(DOC_FILE, rendered);
    process.stdout.write(`${DOC_FILE}: figures of ${Object.keys(results.scenarios).join(', ')}\n`);
  }
}
