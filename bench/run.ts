/**
 * `npm run bench [-- --only render,delivery] [--quick] [--profile]`: runs the benchmarks under
 * bench/, prints one table and writes bench/results.json. Every figure stands beside a reference
 * measured in the same run on the same machine. Benchmarks never fail for being slow; the
 * process exits non-zero only when a benchmark could not run at all.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { required } from '../lambdas/core/required';
import { loadAverage, machineInfo } from './support/machine';
import { BENCH_DIR, ProcessRegistry } from './support/processes';
import type { Benchmark, BenchResult, Row } from './support/types';

interface Entry {
  readonly name: string;
  /** Loaded only when selected (the cost model pulls in aws-cdk-lib, which takes seconds). require, not import():
   * the TypeScript loader (local/register.js) hooks require only.. */
  load(): Benchmark;
}

/** In run order: the cost model reads figures measured by the others. */
const BENCHMARKS: readonly Entry[] = [
  {
    name: 'render',
    load: () => (require('./render') as typeof import('./render')).renderBenchmark,
  },
  {
    name: 'delivery',
    load: () => (require('./delivery') as typeof import('./delivery')).deliveryBenchmark,
  },
  {
    name: 'coldstart',
    load: () => (require('./cold-start') as typeof import('./cold-start')).coldStartBenchmark,
  },
  { name: 'e2e', load: () => (require('./e2e') as typeof import('./e2e')).e2eBenchmark },
  {
    name: 'fairness',
    load: () => (require('./fairness') as typeof import('./fairness')).fairnessBenchmark,
  },
  {
    name: 'definitions',
    load: () => (require('./definitions') as typeof import('./definitions')).definitionsBenchmark,
  },
  {
    name: 'health',
    load: () => (require('./health') as typeof import('./health')).healthBenchmark,
  },
  { name: 'cost', load: () => (require('./cost') as typeof import('./cost')).costBenchmark },
  {
    name: 'erasure',
    load: () => (require('./erasure') as typeof import('./erasure')).erasureBenchmark,
  },
  {
    name: 'console',
    load: () =>
      (require('./console-bundle') as typeof import('./console-bundle')).consoleBundleBenchmark,
  },
];
const RESULTS_FILE = path.join(BENCH_DIR, 'results.json');

interface Args {
  only?: string[];
  quick: boolean;
  profile: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const a = required(argv[i], 'argv[i]');
    if (a === '--quick') args.quick = true;
    else if (a === '--profile') args.profile = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const value = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!value) throw new Error('--only needs a comma list, e.g. --only render,delivery');
      args.only = value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        `usage: npm run bench -- [--only ${BENCHMARKS.map((b) => b.name).join(',')}] [--quick] [--profile]\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  const unknown = args.only?.filter((n) => !BENCHMARKS.some((b) => b.name === n)) ?? [];
  if (unknown.length > 0)
    throw new Error(
      `unknown benchmark(s) ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`,
    );
  return args;
}

interface StoredResults {
  machine?: unknown;
  figures: Record<string, unknown>;
  benchmarks: Record<string, unknown>;
}

function readStored(): StoredResults {
  if (!existsSync(RESULTS_FILE)) return { figures: {}, benchmarks: {} };
  try {
    const parsed = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Partial<StoredResults>;
    return {
      machine: parsed.machine,
      figures: parsed.figures ?? {},
      benchmarks: parsed.benchmarks ?? {},
    };
  } catch {
    return { figures: {}, benchmarks: {} };
  }
}

function getPath(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    if (cur[part] === null || typeof cur[part] !== 'object') cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[required(parts.at(-1), 'parts.at(-1)')] = value;
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(abs >= 1 ? 2 : 3);
}

export function renderTable(rows: readonly (Row & { bench: string })[]): string {
  const header = ['figure', 'value', 'goal', 'met', 'reference (same run)'];
  const lines = rows.map((r) => [
    r.label,
    `${fmt(r.value)} ${r.unit}`.trim(),
    r.goal ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    r.reference ?? '',
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...lines.map((l) => required(l[i], 'l[i]').length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padEnd(required(widths[i], 'widths[i]'))).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...lines.map(line),
  ].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const procs = new ProcessRegistry();
  const stopOnSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping the processes this run started\n`);
    void procs.closeAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  process.once('exit', () => procs.killSync());

  const machine = machineInfo();
  const stored = readStored();
  const fresh: Record<string, number> = {};
  const previous = (key: string): number | undefined => {
    if (key in fresh) return fresh[key];
    const v = getPath(stored.figures, key);
    return typeof v === 'number' ? v : undefined;
  };
  const selected = BENCHMARKS.filter((b) => !args.only || args.only.includes(b.name));
  process.stdout.write(
    `bench ${machine.date}: ${machine.nproc} cores, ${machine.cpuModel}, node ${machine.node}, load ${machine.loadAvg.join(' ')}${args.quick ? ' (--quick)' : ''}\n`,
  );
  const started = Date.now();
  const rows: (Row & { bench: string })[] = [];
  const results: Record<string, BenchResult | { error: string }> = {};
  let failures = 0;
  try {
    for (const entry of selected) {
      const t0 = Date.now();
      process.stdout.write(`\n== ${entry.name}\n`);
      try {
        const bench = entry.load();
        process.stdout.write(`   ${bench.title}\n`);
        const result = await bench.run({
          quick: args.quick,
          profile: args.profile,
          procs,
          previous,
          log: (m) => process.stdout.write(`   ${m}\n`),
        });
        Object.assign(fresh, result.figures);
        results[entry.name] = { ...result, loadAvgAfter: loadAverage() } as BenchResult;
        rows.push(...result.rows.map((r) => ({ ...r, bench: entry.name })));
        for (const note of result.notes) process.stdout.write(`   note: ${note}\n`);
      } catch (err) {
        failures++;
        const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
        results[entry.name] = { error: message };
        process.stderr.write(`   ${entry.name} could not run: ${message}\n`);
      } finally {
        // Whatever this benchmark left running ends now, not at the end of the run.
        await procs.closeAll();
        procs.reopen();
      }
      process.stdout.write(
        `   (${((Date.now() - t0) / 1000).toFixed(1)} s, load average now ${loadAverage().join(' ')})\n`,
      );
    }
  } finally {
    await procs.closeAll();
  }

  const table = renderTable(rows);
  process.stdout.write(
    `\nResults ${machine.date} | ${machine.nproc} cores, ${machine.cpuModel}, node ${machine.node} | load at start ${machine.loadAvg.join(' ')} | ${((Date.now() - started) / 1000).toFixed(0)} s${args.quick ? ' | --quick' : ''}\n${table}\n`,
  );

  // Merge: figures of benchmarks not run this time stay as they were, with their own run date.
  const figures = stored.figures;
  for (const [key, value] of Object.entries(fresh)) setPath(figures, key, value);
  const benchmarks = stored.benchmarks;
  for (const [name, result] of Object.entries(results)) {
    benchmarks[name] = { date: machine.date, quick: args.quick, machine, ...result };
  }
  // The stored table covers every benchmark's latest rows, whichever run measured them.
  const allRows = BENCHMARKS.flatMap((b) => {
    const stored = benchmarks[b.name] as { rows?: Row[]; date?: string } | undefined;
    return (stored?.rows ?? []).map((r) => ({ ...r, bench: b.name }));
  });
  writeFileSync(
    RESULTS_FILE,
    `${JSON.stringify(
      {
        machine,
        quick: args.quick,
        ran: selected.map((b) => b.name),
        table: renderTable(allRows).split('\n'),
        figures,
        benchmarks,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), RESULTS_FILE)}\n`);
  if (failures > 0) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
