/**
 * Where a notification's automatic series stands, read from its record alone: what the attempt
 * Lambda, a release and the retry sweeper (retry-sweep.ts) all continue it with.
 */
import { isParkReason, type Notification } from './model';
import type { RetryStart } from './retry-contract';
import { RETRY_COUNT } from './retry-schedule';

/**
 * The retry execution a notification waits for, from its record alone (the same for every
 * caller that reads the same record: a repeated attempt task, a release, the retry sweeper):
 * retry k+1 of its series, scheduled by its last attempt not made by hand, due at its
 * nextAttemptAt. None when it waits for no retry (parked, settled, or after its last retry).
 */
export function nextRetryStart(
  n: Pick<Notification, 'id' | 'status' | 'nextAttemptAt' | 'waitingReason' | 'attempts'>,
): RetryStart | undefined {
  if (n.status !== 'WAITING' || isParkReason(n.waitingReason) || n.nextAttemptAt == null)
    return undefined;
  // The attempt that scheduled the next retry: the last one not made by hand.
  const after = n.attempts.findLast((a) => a.trigger !== 'manual');
  if (!after) return undefined;
  return {
    notificationId: n.id,
    retry: retriesOf(n) + 1,
    nextAttemptAt: n.nextAttemptAt,
    after: after.number,
  };
}

/**
 * The end of a series left open: its last retry is recorded (and failed), but the notification
 * was never marked FAILED, because the execution of that retry failed for good in between. The
 * start returned is that retry's execution again, due at the retry's own start (already past,
 * so the Wait ends at once): the attempt Lambda finds the retry recorded, sends nothing, and
 * marks the notification FAILED as it does after every last retry. None for any other record.
 */
export function seriesEndStart(
  n: Pick<Notification, 'id' | 'status' | 'nextAttemptAt' | 'waitingReason' | 'attempts'>,
): RetryStart | undefined {
  if (n.status !== 'WAITING' || isParkReason(n.waitingReason) || n.nextAttemptAt != null)
    return undefined;
  const retries = retriesOf(n);
  if (retries < RETRY_COUNT) return undefined;
  const automatic = n.attempts.filter((a) => a.trigger !== 'manual');
  const last = automatic.at(-1);
  const scheduledBy = automatic.at(-2);
  if (!last || !scheduledBy) return undefined;
  return {
    notificationId: n.id,
    retry: retries,
    nextAttemptAt: last.startedAt,
    after: scheduledBy.number,
  };
}

/** Automatic retries recorded so far. */
export function retriesOf(notification: Pick<Notification, 'attempts'>): number {
  return notification.attempts.filter((a) => a.trigger === 'retry').length;
}
