/** When the notification page reads its notification again; no DOM, so unit tests run it in Node. */

/** The highest attempt number shown, 0 before any attempt. */
export function lastAttemptNumber(attempts: readonly { number: number }[]): number {
  return attempts.reduce((max, a) => Math.max(max, a.number), 0);
}

/**
 * Whether a resend queued when the last attempt was `before` still has no attempt of its own.
 * By number, not by count: a record keeps at most 500 attempts (older ones leave it), so past
 * 500 the count stops growing while the numbers go on.
 */
export function resendPending(
  before: number | undefined,
  attempts: readonly { number: number }[],
): boolean {
  return before !== undefined && lastAttemptNumber(attempts) <= before;
}

/** Reads this far apart at first, so a change shows at once. */
export const POLL_FAST_MS = 700;
/** Reads at this pace before backing off. */
export const POLL_FAST_READS = 8;
/** The back-off doubles up to this. */
export const POLL_MAX_MS = 15_000;
/** Before a known next attempt the page may wait this long between reads. */
export const POLL_MAX_BEFORE_DUE_MS = 60_000;
/** Read this long after the next attempt is due, when it has had time to happen. */
export const POLL_DUE_MARGIN_MS = 500;

/**
 * How long to wait before the next read of a notification that is still moving, after `reads`
 * reads since the page opened or the operator acted: 0.7 s for the first reads, then doubling
 * up to 15 s. With `dueAt` (an automatic retry scheduled: nothing changes before it unless
 * someone acts) the page reads just after it is due, and before that at most once a minute
 * instead of every 15 s for hours.
 */
export function pollDelay(reads: number, now: number, dueAt?: string | null): number {
  const backoff = Math.min(
    POLL_FAST_MS * 2 ** Math.max(0, reads - POLL_FAST_READS + 1),
    POLL_MAX_MS,
  );
  const due = dueAt ? Date.parse(dueAt) : Number.NaN;
  if (!(due > now)) return backoff;
  const untilDue = due - now + POLL_DUE_MARGIN_MS;
  return Math.min(Math.max(untilDue, POLL_FAST_MS), Math.max(backoff, POLL_MAX_BEFORE_DUE_MS));
}
