/**
 * The README is what operators deploy from: its configuration reference, local-mode switches,
 * metric names, commands, links and anchors must name what the code has, with its defaults.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { METRIC_NAMES } from '../../lambdas/config';
import { CONTEXT_KEYS, DEFAULT_SETTINGS } from '../../lib/config';
import { LOCAL_DEFAULTS, platformOptionsFromEnv } from '../../local/platform';

const ROOT = path.resolve(__dirname, '../..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const SCRIPTS = (
  JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

/** The section under a `## ` or `### ` heading, up to the next heading of any level. */
function section(heading: string): string {
  const start = README.indexOf(`${heading}\n`);
  if (start < 0) throw new Error(`README has no heading "${heading}"`);
  const rest = README.slice(start + heading.length + 1);
  const end = rest.search(/^#{1,3} /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Rows of the first pipe table in `text`, header and separator left out, cells trimmed. */
function tableRows(text: string): string[][] {
  const lines = text.split('\n').filter((l) => /^\s*\|/.test(l));
  return lines.slice(2).map((l) =>
    l
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim()),
  );
}

const unquote = (cell: string) => cell.replace(/^`|`$/g, '');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

describe('README', () => {
  it('lists every context key of lib/config.ts in its configuration reference, and no other', () => {
    const rows = tableRows(section('## Configuration reference'));
    const keys = rows.map((r) => unquote(r[0] ?? ''));
    expect([...keys].sort()).toEqual(Object.values(CONTEXT_KEYS).sort());
    // The props of WebhooksSettings: those with a default, and the two that have none.
    const props = [...Object.keys(DEFAULT_SETTINGS), 'eipAllocationIds', 'alarmEmail'];
    for (const r of rows) {
      const prop = unquote(r[1] ?? '');
      if (prop !== '') expect(props).toContain(prop);
    }
  });

  it('gives the defaults DEFAULT_SETTINGS has for every plain value in the configuration reference', () => {
    const rows = tableRows(section('## Configuration reference'));
    const settings = DEFAULT_SETTINGS as unknown as Record<string, unknown>;
    let compared = 0;
    for (const r of rows) {
      const prop = unquote(r[1] ?? '');
      const shown = unquote(r[2] ?? '');
      if (prop === '') continue;
      const actual = settings[prop];
      if (typeof actual === 'number') {
        expect({ prop, value: Number(shown) }).toEqual({ prop, value: actual });
        compared++;
      } else if (typeof actual === 'string' || typeof actual === 'boolean') {
        expect({ prop, value: shown }).toEqual({ prop, value: String(actual) });
        compared++;
      } else if (Array.isArray(actual)) {
        expect({ prop, value: JSON.parse(shown) as unknown }).toEqual({ prop, value: actual });
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(20);
  });

  it('passes only context keys with -c', () => {
    const used = [...README.matchAll(/-c ([A-Za-z]+)=/g)].map((m) => m[1] as string);
    expect(used.length).toBeGreaterThan(5);
    const known: string[] = [...Object.values(CONTEXT_KEYS), 'key'];
    for (const key of used) expect(known).toContain(key);
  });

  it('documents the local-mode switches local mode reads, with its defaults', () => {
    const rows = tableRows(section('### Switches (environment variables)'));
    const defaults = Object.fromEntries(rows.map((r) => [unquote(r[0] ?? ''), r[2] ?? '']));
    expect(Object.keys(defaults).sort()).toEqual(
      [
        'ALLOW_HTTP',
        'API_TOKEN',
        'DATA_DIR',
        'EGRESS_ALLOW_CIDRS',
        'PORT',
        'RETRY_TIME_SCALE',
      ].sort(),
    );
    expect(Number(defaults.PORT)).toBe(LOCAL_DEFAULTS.port);
    expect(Number(defaults.RETRY_TIME_SCALE)).toBe(LOCAL_DEFAULTS.retryTimeScale);
    expect(unquote(defaults.EGRESS_ALLOW_CIDRS ?? '')).toBe(LOCAL_DEFAULTS.egressAllowCidrs);
    expect(defaults.ALLOW_HTTP).toBe(String(LOCAL_DEFAULTS.allowHttp));
    expect(unquote(defaults.DATA_DIR ?? '')).toBe(`${LOCAL_DEFAULTS.dataDir}/`);
  });

  it('names in "Also honoured" only variables local mode takes from its environment', () => {
    const also = section('### Switches (environment variables)').split('Also honoured')[1] ?? '';
    const names = [...also.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] as string);
    expect(names.length).toBeGreaterThan(10);
    const sample = (name: string) =>
      name === 'RETRY_SCHEDULE_SECONDS'
        ? '[1,2,3,4,5]'
        : name === 'CIRCUIT_BREAKER'
          ? '{}'
          : name === 'LOCAL_PAUSE_DELIVERY'
            ? 'true'
            : '1';
    for (const name of names)
      expect({ name, read: platformOptionsFromEnv({ [name]: sample(name) }) }).not.toEqual({
        name,
        read: {},
      });
  });

  it('lists every platform metric of METRIC_NAMES in its metrics table', () => {
    const observe = section('## Observe');
    const table = observe.slice(observe.indexOf('| metric |'));
    const listed = tableRows(table).flatMap((r) =>
      [...(r[0] ?? '').matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1] as string),
    );
    expect([...listed].sort()).toEqual(Object.values(METRIC_NAMES).sort());
  });

  it('runs only npm scripts package.json has', () => {
    const used = [...README.matchAll(/npm run ([a-z][a-z:]*)/g)].map((m) => m[1] as string);
    expect(used.length).toBeGreaterThan(5);
    for (const script of used) expect(Object.keys(SCRIPTS)).toContain(script);
  });

  it('links only to files that exist and to headings it has', () => {
    const prose = README.replace(/^```[\s\S]*?^```/gm, '');
    const headings = new Set(
      [...prose.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1] as string)),
    );
    const targets = [...README.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string);
    expect(targets.length).toBeGreaterThan(10);
    for (const target of targets) {
      if (/^https?:/.test(target)) continue;
      if (target.startsWith('#')) expect(headings).toContain(target.slice(1));
      else
        expect({ target, exists: existsSync(path.join(ROOT, target)) }).toEqual({
          target,
          exists: true,
        });
    }
  });

  it('names only repository files that exist', () => {
    const named = [
      ...README.matchAll(
        /`((?:lambdas|lib|local|bin|bench|console|docs|test|\.ci)\/[A-Za-z0-9_./-]+\.[a-z]+)`/g,
      ),
    ].map((m) => m[1] as string);
    expect(named.length).toBeGreaterThan(10);
    for (const file of named)
      expect({ file, exists: existsSync(path.join(ROOT, file)) }).toEqual({ file, exists: true });
  });
});
