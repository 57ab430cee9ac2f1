/**
 * How much of its attempts a notification keeps. Every attempt stays in the history (number,
 * trigger, time, status, error); the response excerpt, up to 1 KiB each, stays on the first
 * attempts (the automatic series as first made) and on the latest ones. Without a bound, a
 * notification that serves as its circuit's probe through a long outage (one attempt every
 * cool-down, about 250 in the 5 days before auto-disable) or that is resent again and again
 * would grow towards DynamoDB's 400 KB item limit, and every write of it costs its size in
 * write units. Beyond MAX_ATTEMPTS_KEPT attempts, the oldest after the first ones go too (each
 * attempt keeps its number, so the gap shows; the list's attemptCount counts them all): about
 * 75 KB at most, however long a circuit stays open or however often a notification is resent.
 */
import type { Attempt } from './model';
import { RETRY_COUNT } from './retry-schedule';

/** Attempts whose response excerpt is kept whatever follows: the first one and its retries. */
export const FIRST_EXCERPTS_KEPT = 1 + RETRY_COUNT;
/** The latest attempts whose response excerpt is kept. */
export const LATEST_EXCERPTS_KEPT = 20;

/** The most attempts a notification's record holds: its first ones and its latest. */
export const MAX_ATTEMPTS_KEPT = 500;

/** The number of the attempt that follows `attempts` (they keep their numbers when some go). */
export function nextAttemptNumber(attempts: readonly Attempt[]): number {
  return (attempts.at(-1)?.number ?? 0) + 1;
}

/**
 * The attempt list to store once `next` is recorded after `previous`, when appending `next`
 * alone would keep an excerpt or an attempt the rules above drop; undefined when appending is
 * enough (the common case: fewer than FIRST_EXCERPTS_KEPT + LATEST_EXCERPTS_KEPT attempts).
 */
export function attemptsToStore(
  previous: readonly Attempt[],
  next: Attempt,
): readonly Attempt[] | undefined {
  let list: Attempt[] | undefined;
  const over = previous.length + 1 - MAX_ATTEMPTS_KEPT;
  if (over > 0) {
    list = [...previous];
    list.splice(FIRST_EXCERPTS_KEPT, over);
  }
  const kept = list ?? previous;
  const latestFrom = kept.length + 1 - LATEST_EXCERPTS_KEPT;
  for (let i = FIRST_EXCERPTS_KEPT; i < Math.min(latestFrom, kept.length); i++) {
    const attempt = kept[i] as Attempt;
    if (attempt.responseBody == null) continue;
    list ??= [...previous];
    list[i] = { ...attempt, responseBody: null };
  }
  return list === undefined ? undefined : [...list, next];
}
