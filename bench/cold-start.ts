/**
 * Cold start: each Lambda bundle built with esbuild exactly as lib/constructs/handler-function.ts
 * has the CDK build it (test/support/bundle.ts), its size, and the time
 * a fresh node process takes to `require` it, median of 20, minus the same for an empty bundle
 * built the same way. Contributors by package come from esbuild's metafile.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Metafile } from 'esbuild';
import { required } from '../lambdas/core/required';
import { bundleLambda, CDK_BUNDLING } from '../test/support/bundle';
import { FUNCTION_ENV } from '../test/support/function-env';
import { PROJECT_ROOT } from './support/processes';
import { median, round } from './support/stats';
import type { Benchmark, BenchOptions, BenchResult, Row } from './support/types';

const HANDLERS = ['ingest', 'api', 'delivery', 'attempt'] as const;
const GOAL_DELIVERY_KIB = 350;
const GOAL_DELIVERY_INIT_MS = 120;

/** Groups bundled inputs: a package name for node_modules, the folder for project files. */
export function contributor(input: string): string {
  const nm = input.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = input.slice(nm + 'node_modules/'.length).split('/');
    return required(parts[0], 'parts[0]').startsWith('@')
      ? `${parts[0]}/${parts[1]}`
      : required(parts[0], 'parts[0]');
  }
  return path.dirname(input);
}

function contributors(
  meta: Metafile,
  outfile: string,
  top: number,
): Array<{ name: string; kib: number }> {
  const output = Object.entries(meta.outputs).find(
    ([file]) => path.resolve(PROJECT_ROOT, file) === outfile,
  )?.[1];
  const sums = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const key = contributor(input);
    sums.set(key, (sums.get(key) ?? 0) + bytesInOutput);
  }
  return [...sums.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, bytes]) => ({ name, kib: round(bytes / 1024) }));
}

/** Milliseconds a fresh node process spends in require(file). */
function requireMs(file: string, nodeOptions: string[]): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  const out = execFileSync(process.execPath, [...nodeOptions, '-e', script], {
    // Nothing of the bench's own environment (e.g. NODE_OPTIONS) changes what is measured; the
    // entry points build their dependencies at init, so init includes building the SDK clients.
    env: { PATH: process.env.PATH ?? '', ...FUNCTION_ENV },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return Number(out);
}

export const coldStartBenchmark: Benchmark = {
  name: 'coldstart',
  title: 'Cold start: bundle size and module init time per Lambda (esbuild as the CDK bundles)',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-bundles-'));
    try {
      const emptyEntry = path.join(dir, 'empty.ts');
      writeFileSync(emptyEntry, 'export const handler = async (): Promise<void> => undefined;\n');
      const entries: Record<string, string> = { empty: emptyEntry };
      for (const h of HANDLERS)
        entries[h] = path.join(PROJECT_ROOT, 'lambdas', 'functions', `${h}.ts`);
      const bundles: Record<
        string,
        { file: string; bytes: number; mapBytes: number; top: Array<{ name: string; kib: number }> }
      > = {};
      for (const [name, entry] of Object.entries(entries)) {
        const outfile = path.join(dir, name, 'index.js');
        const t0 = performance.now();
        const metafile = await bundleLambda(name, outfile, entry);
        bundles[name] = {
          file: outfile,
          bytes: statSync(outfile).size,
          mapBytes: statSync(`${outfile}.map`).size,
          top: contributors(metafile, outfile, 12),
        };
        opts.log(
          `${name}: ${round(bundles[name].bytes / 1024)} KiB (built in ${Math.round(performance.now() - t0)} ms)`,
        );
      }

      // Round-robin over the bundles, so drift on a shared machine hits all alike.
      const runs = opts.quick ? 7 : 20;
      // The functions run with NODE_OPTIONS=--enable-source-maps (handler-function.ts).
      // Without source maps only as a side reference, with fewer runs.
      const variants: Record<string, string[]> = {
        sourceMaps: ['--enable-source-maps'],
        plain: [],
      };
      const runsOf: Record<string, number> = { sourceMaps: runs, plain: Math.min(runs, 7) };
      const samples: Record<string, Record<string, number[]>> = {};
      for (const [variant, flags] of Object.entries(variants)) {
        samples[variant] = Object.fromEntries(Object.keys(bundles).map((n) => [n, [] as number[]]));
        for (let i = 0; i < required(runsOf[variant], 'runsOf[variant]'); i++) {
          for (const [name, b] of Object.entries(bundles))
            required(samples[variant]?.[name], `samples of ${name}`).push(requireMs(b.file, flags));
        }
      }
      const initMs = (variant: string, name: string) =>
        median(required(samples[variant]?.[name], `samples of ${name}`));

      const figures: Record<string, number> = {};
      const rows: Row[] = [];
      for (const h of HANDLERS) {
        const b = required(bundles[h], 'bundles[h]');
        const kib = round(b.bytes / 1024);
        const over = round(initMs('sourceMaps', h) - initMs('sourceMaps', 'empty'));
        figures[`bundleKiB.${h}`] = kib;
        figures[`initMsOverBaseline.${h}`] = over;
        const isDelivery = h === 'delivery';
        rows.push({
          label: `Bundle size, ${h}`,
          key: `bundleKiB.${h}`,
          value: kib,
          unit: 'KiB',
          reference: `empty bundle ${round(required(bundles.empty, 'bundles.empty').bytes / 1024)} KiB; largest: ${b.top
            .slice(0, 3)
            .map((t) => `${t.name} ${t.kib}`)
            .join(', ')}`,
          ...(isDelivery ? { goal: `<= ${GOAL_DELIVERY_KIB}`, met: kib <= GOAL_DELIVERY_KIB } : {}),
        });
        rows.push({
          label: `Module init over empty bundle, ${h}`,
          key: `initMsOverBaseline.${h}`,
          value: over,
          unit: 'ms',
          reference: `empty bundle ${round(initMs('sourceMaps', 'empty'))} ms; without source maps +${round(initMs('plain', h) - initMs('plain', 'empty'))} ms`,
          ...(isDelivery
            ? { goal: `<= ${GOAL_DELIVERY_INIT_MS}`, met: over <= GOAL_DELIVERY_INIT_MS }
            : {}),
        });
      }
      const delivery = required(bundles.delivery, 'bundles.delivery');
      const notes = [
        `Init measured with node ${process.version} on this machine with --enable-source-maps (as the functions run); Lambda runs Node 22 on arm64.`,
      ];
      if (
        required(figures['bundleKiB.delivery'], "figures['bundleKiB.delivery']") >
          GOAL_DELIVERY_KIB ||
        required(figures['initMsOverBaseline.delivery'], "figures['initMsOverBaseline.delivery']") >
          GOAL_DELIVERY_INIT_MS
      ) {
        notes.push(
          `delivery bundle over goal; biggest contributors (KiB): ${delivery.top.map((t) => `${t.name} ${t.kib}`).join(', ')}`,
        );
      }
      return {
        figures,
        rows,
        details: {
          runs: runsOf,
          bundles: Object.fromEntries(
            Object.entries(bundles).map(([n, b]) => [
              n,
              {
                kib: round(b.bytes / 1024),
                sourceMapKiB: round(b.mapBytes / 1024),
                contributorsKiB: b.top,
              },
            ]),
          ),
          requireMsMedian: Object.fromEntries(
            Object.keys(variants).map((v) => [
              v,
              Object.fromEntries(Object.keys(bundles).map((n) => [n, round(initMs(v, n))])),
            ]),
          ),
          samplesMs: samples,
          esbuild: { ...CDK_BUNDLING, metafile: undefined },
        },
        notes,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
