/**
 * The retry sweeper: restarts retries whose execution of the retry machine failed for good.
 *
 * A retry execution whose Attempt task exhausted its own retries (about 4 minutes for a failing
 * invocation, up to about 21 for a throttled one) leaves its notification WAITING with a
 * nextAttemptAt in the past, and no execution holds it any more. Every sweep (scheduled, every
 * 15 minutes on AWS) looks for such notifications, due longer ago than a grace period beyond
 * that span (30 minutes by default), and starts their retry again: the execution the
 * record calls for (nextRetryStart, as the attempt Lambda builds it), due at once (its
 * nextAttemptAt has passed), named after the sweep's time slot (`-s<slot>`), so a redelivered
 * schedule event of the same slot starts nothing new. Parked notifications are left to their
 * webhook's health driver.
 *
 * The end of a series is swept the same way: a notification whose last retry is recorded but
 * which was never marked FAILED (the execution of that retry failed for good between the two)
 * waits for nothing. Once its last retry started longer ago than the grace, the sweep starts
 * that retry's execution again (seriesEndStart); the attempt Lambda finds the retry recorded,
 * sends nothing and marks it FAILED. The sweeper itself never writes a record.
 *
 * At least once: a retry still running past the grace (it should not be) may be sent by both
 * executions; the attempt Lambda records only one of them (its record is conditional on the
 * attempt count it read), and the receiver dedupes by `webhook-id`.
 */

import type { NotificationStore, RetryScheduler } from '../ports';
import type { DriverWatchResult } from './health/driver-watch';
import { isParkReason, type Notification } from './model';
import type { RetryStart } from './retry-contract';
import { nextRetryStart, seriesEndStart } from './retry-series';

export interface RetrySweepSettings {
  /** How long past its nextAttemptAt a retry must be before it is restarted (ms). */
  readonly graceMs: number;
  /** The most retries one sweep starts; the rest wait for the next sweep. */
  readonly maxStarts: number;
  /** Length of a sweep slot (ms): the sweep schedule's interval. */
  readonly slotMs: number;
}

export interface RetrySweepDeps {
  readonly notifications: Pick<NotificationStore, 'get' | 'listOverdueRetries'>;
  readonly scheduler: RetryScheduler;
  readonly settings: RetrySweepSettings;
  /** Restarts health drivers presumed dead (health/driver-watch.ts), after the retries. */
  readonly drivers?: () => Promise<DriverWatchResult>;
}

export interface SweepResult {
  readonly slot: number;
  /** Candidates the index showed (at most maxStarts). */
  readonly found: number;
  /** Retry executions started (or found already started in this slot). */
  readonly started: number;
  /** Candidates whose record no longer needed a retry when read. */
  readonly skipped: number;
  /** Starts that failed (left for a repeat of this sweep or the next one). */
  readonly errors: readonly { readonly notificationId: string; readonly error: unknown }[];
  /** Health drivers presumed dead and restarted; none when the sweeper does not watch them. */
  readonly drivers?: DriverWatchResult;
}

/** How many records are read and executions started at once. */
const SWEEP_PARALLELISM = 8;
/**
 * How long a sweep scans the WAITING partitions (the sweeper Lambda has 120 s): the rest of
 * the time is for reading the candidates and starting their retries. Successive sweeps start
 * at successive shards, so every shard is reached however large the backlog.
 */
export const SWEEP_SCAN_BUDGET_MS = 45_000;

/** The slot of a sweep at `at`: whole intervals since the epoch. */
export function sweepSlot(at: Date, slotMs: number): number {
  return Math.floor(at.getTime() / slotMs);
}

/** Whether a record still waits for a retry due before `dueBefore` (ISO). */
export function isOverdueRetry(
  n: Pick<Notification, 'status' | 'waitingReason' | 'nextAttemptAt'>,
  dueBefore: string,
): boolean {
  return (
    n.status === 'WAITING' &&
    !isParkReason(n.waitingReason) &&
    n.nextAttemptAt != null &&
    n.nextAttemptAt < dueBefore
  );
}

/**
 * The execution a sweep starts for a record, read after the index showed it: the retry it
 * waits for, due before `dueBefore`, or the end of a series left open whose last retry started
 * before it. None when the record is not stuck (any more).
 */
export function sweepStartOf(
  n: Pick<Notification, 'id' | 'status' | 'nextAttemptAt' | 'waitingReason' | 'attempts'>,
  dueBefore: string,
): RetryStart | undefined {
  if (isOverdueRetry(n, dueBefore)) return nextRetryStart(n);
  const end = seriesEndStart(n);
  return end && end.nextAttemptAt < dueBefore ? end : undefined;
}

export class RetrySweeper {
  constructor(private readonly deps: RetrySweepDeps) {}

  /** One sweep at `at` (the schedule's time of the run, so a redelivery sweeps the same slot). */
  async sweep(at: Date): Promise<SweepResult> {
    const { graceMs, maxStarts, slotMs } = this.deps.settings;
    const slot = sweepSlot(at, slotMs);
    const dueBefore = new Date(at.getTime() - graceMs).toISOString();
    const candidates = await this.deps.notifications.listOverdueRetries(dueBefore, maxStarts, {
      rotation: slot,
      budgetMs: SWEEP_SCAN_BUDGET_MS,
    });
    let started = 0;
    let skipped = 0;
    const errors: { notificationId: string; error: unknown }[] = [];
    for (let i = 0; i < candidates.length; i += SWEEP_PARALLELISM) {
      await Promise.all(
        candidates.slice(i, i + SWEEP_PARALLELISM).map(async (id) => {
          try {
            // The index lags the table: the record decides.
            const n = await this.deps.notifications.get(id);
            const start = n ? sweepStartOf(n, dueBefore) : undefined;
            if (!start) {
              skipped++;
              return;
            }
            await this.deps.scheduler.start({ ...start, sweepSlot: slot });
            started++;
          } catch (error) {
            errors.push({ notificationId: id, error });
          }
        }),
      );
    }
    // A failure here (the webhook ids could not be read) leaves the drivers to the next sweep.
    const drivers = await this.deps.drivers?.().catch(
      (error: unknown): DriverWatchResult => ({
        checked: 0,
        restarted: [],
        errors: [{ webhookId: '*', error }],
      }),
    );
    return {
      slot,
      found: candidates.length,
      started,
      skipped,
      errors,
      ...(drivers ? { drivers } : {}),
    };
  }
}
