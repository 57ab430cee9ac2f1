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
