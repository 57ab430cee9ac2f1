import { readFileSync } from 'node:fs';
import {
  BEGIN,
  DOC_FILE,
  END,
  RESULTS_FILE,
  renderDoc,
  renderFigures,
} from '../reliability/render-doc';

describe('docs/RELIABILITY.md figures', () => {
  it('are exactly what test/reliability/results.json renders (npm run reliability:doc)', () => {
    const doc = readFileSync(DOC_FILE, 'utf8');
    const results = JSON.parse(readFileSync(RESULTS_FILE, 'utf8'));
    expect(Object.keys(results.scenarios).length).toBeGreaterThan(0);
    expect(renderDoc(doc, results)).toBe(doc);
  });

  it('render every scenario of the file, nested figures as dotted names', () => {
    const out = renderFigures({
      scenarios: {
        unlisted: {
          run: { finishedAt: '2026-12-03T08:00:00.000Z', node: 'v22.23.3', cpus: 2 },
          figures: { executions: { started: 3 }, requests: 12, note: 'a|b' },
        },
      },
    });
    expect(out).toContain('#### unlisted');
    expect(out).toContain('| executions.started | 3 |');
    expect(out).toContain('| requests | 12 |');
    expect(out).toContain('| note | a\\|b |');
    const doc = `x\n${BEGIN}\nold\n${END}\ny`;
    expect(renderDoc(doc, { scenarios: {} })).toBe(`x\n${BEGIN}\n\n${END}\ny`);
  });
});
