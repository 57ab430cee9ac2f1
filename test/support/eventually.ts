/** Polling with a deadline: tests wait for events, never for fixed times. */

export interface EventuallyOptions {
  /** Default 30 s. */
  readonly timeoutMs?: number;
  /** Named in the error when the deadline passes. */
  readonly what?: string;
  /** An error for which polling stops at once (rethrown). */
  readonly fatal?: (err: Error) => boolean;
  readonly everyMs?: number;
}

/**
 * Polls `check` until it returns a value other than undefined and resolves with it; fails after
 * the deadline (a number is the timeout in ms) with the last error seen.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  opts: number | EventuallyOptions = {},
): Promise<T> {
  const o: EventuallyOptions = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (o.fatal?.(err as Error)) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${o.what ?? 'a condition'}${last ? `: ${(last as Error).message}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, o.everyMs ?? 50));
  }
}
