/**
 * For values the code's own logic guarantees (a regex group that matched, a field read after
 * its validation passed): returns the value, or throws an Error naming what was missing, so a
 * broken invariant fails loudly where it breaks instead of as `undefined` further on.
 */
export function required<T>(value: T | null | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`${what} is missing`);
  return value;
}
