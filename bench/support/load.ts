/** Closed-loop load: `concurrency` workers each run the next operation as soon as theirs is done. */

export interface LoadResult {
  readonly ops: number;
  readonly errors: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  /** Process CPU time (user + system) per operation, in microseconds. */
  readonly cpuUsPerOp: number;
  readonly firstError?: string;
}

export async function closedLoop(
  concurrency: number,
  durationMs: number,
  op: (i: number) => Promise<unknown>,
  startIndex = 0,
): Promise<LoadResult & { nextIndex: number }> {
  let next = startIndex;
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const i = next++;
      try {
        await op(i);
        ops++;
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    ops,
    errors,
    seconds,
    opsPerSecond: ops / seconds,
    cpuUsPerOp: ops > 0 ? (cpu.user + cpu.system) / ops : Number.NaN,
    firstError,
    nextIndex: next,
  };
}

/** Sums segments measured alternately (throughput over the summed time). */
export function combine(results: readonly LoadResult[]): LoadResult {
  const ops = results.reduce((a, r) => a + r.ops, 0);
  const errors = results.reduce((a, r) => a + r.errors, 0);
  const seconds = results.reduce((a, r) => a + r.seconds, 0);
  const cpuUs = results.reduce((a, r) => a + r.cpuUsPerOp * r.ops, 0);
  return {
    ops,
    errors,
    seconds,
    opsPerSecond: ops / seconds,
    cpuUsPerOp: ops > 0 ? cpuUs / ops : Number.NaN,
    firstError: results.find((r) => r.firstError)?.firstError,
  };
}
