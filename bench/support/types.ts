/** What every benchmark module returns and how the runner calls it. */
import type { ProcessRegistry } from './processes';

export interface BenchOptions {
  /** Shorter durations and fewer samples (a smoke run; figures are noisier). */
  readonly quick: boolean;
  /** Write a CPU profile summary of the measured path even when it meets its goal. */
  readonly profile: boolean;
  readonly procs: ProcessRegistry;
  /** Figures from earlier benchmarks of this run, then from bench/results.json (cost model inputs). */
  readonly previous: (key: string) => number | undefined;
  log(message: string): void;
}

/** One line of the printed table. */
export interface Row {
  readonly label: string;
  /** Key in results.json (dots for nesting). */
  readonly key?: string;
  readonly value: number;
  readonly unit: string;
  /** The reference measured in the same run, when the figure is a ratio or compared with one. */
  readonly reference?: string;
  readonly goal?: string;
  /** undefined: no goal. */
  readonly met?: boolean;
}

export interface BenchResult {
  /** Flat figures, keys as in results.json (`bundleKiB.delivery`). */
  readonly figures: Record<string, number>;
  readonly rows: Row[];
  /** Raw measurements behind the figures. */
  readonly details: Record<string, unknown>;
  readonly notes: string[];
}

export interface Benchmark {
  readonly name: string;
  readonly title: string;
  run(options: BenchOptions): Promise<BenchResult>;
}
