import { readFileSync } from 'node:fs';
import {
  DOC_FILE,
  numbersInProse,
  RENDERED_NOTE,
  RESULTS_FILE,
  renderDoc,
  TEMPLATE_FILE,
} from '../reliability/render-doc';

describe('docs/RELIABILITY.md', () => {
  it('is exactly what its template and test/reliability/results.json render (npm run reliability:doc)', () => {
    const results = JSON.parse(readFileSync(RESULTS_FILE, 'utf8'));
    expect(Object.keys(results.scenarios).length).toBeGreaterThan(0);
    const rendered = renderDoc(readFileSync(TEMPLATE_FILE, 'utf8'), results);
    expect(readFileSync(DOC_FILE, 'utf8')).toBe(rendered);
  });

  it('quotes no number its template typed: every figure comes from the results file', () => {
    expect(numbersInProse(readFileSync(TEMPLATE_FILE, 'utf8'))).toEqual([]);
  });

  it('renders every scenario, placed or not, nested figures as dotted names, with its run', () => {
    const template = [
      '# T',
      '<!-- rendered -->',
      '## Outage',
      '<!-- figures:outage -->',
      '## Missing',
      '<!-- figures:missing -->',
      '<!-- figures:others -->',
      '',
    ].join('\n');
    const out = renderDoc(template, {
      scenarios: {
        outage: {
          run: { finishedAt: '2026-12-03T08:00:00.000Z', wallClockSeconds: 7, cpus: 2 },
          figures: { executions: { started: 3 }, requests: 12, note: 'a|b' },
        },
        extra: { run: { finishedAt: 'x' }, figures: { n: 1 } },
      },
    });
    expect(out).toContain(RENDERED_NOTE);
    expect(out).toContain('measured 2026-12-03T08:00:00.000Z, run wall clock 7 s, 2 CPUs.');
    expect(out).toContain('| executions.started | 3 |');
    expect(out).toContain('| requests | 12 |');
    expect(out).toContain('| note | a\\|b |');
    expect(out).toContain('No figures of `missing`');
    expect(out).toContain('## extra\n\nmeasured x.');
    expect(out).not.toContain('<!-- figures:');
  });

  it('finds numbers in prose, not in code, names or comments', () => {
    expect(
      numbersInProse(
        'took 12 s, `npm run x -- 3`, IPv4 and ed25519, <!-- figures:a1 -->\n```\n42\n```\n1. 1,753 cases',
      ),
    ).toEqual(['12', '1,753']);
  });
});
