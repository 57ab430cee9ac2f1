/**
 * Retry sweeper Lambda, run on a schedule (EventBridge): one sweep of the retries whose
 * execution failed for good (lambdas/core/retry-sweep.ts). The sweep's slot comes from the
 * schedule event's time, so a redelivered event sweeps the same slot and starts nothing new.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMES } from '../config';
import type { RetrySweeper, SweepResult } from '../core/retry-sweep';
import type { Clock } from '../ports';

/** What EventBridge passes a scheduled target (only `time` is read). */
export interface ScheduledEvent {
  readonly time?: string;
}

export interface SweeperHandlerDeps {
  readonly sweeper: Pick<RetrySweeper, 'sweep'>;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Pick<Logger, 'info' | 'error'>;
}

export type SweeperHandler = (event?: ScheduledEvent) => Promise<SweepResultSummary>;

export interface SweepResultSummary {
  readonly slot: number;
  readonly found: number;
  readonly started: number;
  readonly skipped: number;
  readonly errors: number;
  /** Health drivers presumed dead and restarted. */
  readonly driversRestarted: number;
}

export function createSweeperHandler(deps: SweeperHandlerDeps): SweeperHandler {
  return async (event) => {
    const scheduled = event?.time === undefined ? Number.NaN : Date.parse(event.time);
    const at = Number.isFinite(scheduled) ? new Date(scheduled) : deps.clock.now();
    let result: SweepResult;
    try {
      result = await deps.sweeper.sweep(at);
      deps.metrics.addMetric(METRIC_NAMES.retriesSwept, MetricUnit.Count, result.started);
      // The gauge of open circuits, read from every health record once per sweep (0 included).
      const open = result.drivers?.openCircuits;
      if (open !== undefined)
        deps.metrics.addMetric(METRIC_NAMES.openCircuits, MetricUnit.Count, open);
      // And what waits parked, per reason, 0 included (one EMF line per reason).
      for (const [reason, n] of Object.entries(result.drivers?.waiting ?? {})) {
        const single = deps.metrics.singleMetric();
        single.addDimension('Reason', reason);
        single.addMetric(METRIC_NAMES.waitingNotifications, MetricUnit.Count, n);
      }
    } finally {
      if (deps.metrics.hasStoredMetrics()) deps.metrics.publishStoredMetrics();
    }
    const summary: SweepResultSummary = {
      slot: result.slot,
      found: result.found,
      started: result.started,
      skipped: result.skipped,
      errors: result.errors.length,
      driversRestarted: result.drivers?.restarted.length ?? 0,
    };
    if (result.started > 0 || result.errors.length > 0 || summary.driversRestarted > 0)
      deps.logger.info('retry sweep', {
        ...summary,
        ...(summary.driversRestarted > 0 ? { restartedDrivers: result.drivers?.restarted } : {}),
      });
    for (const { webhookId, error } of result.drivers?.errors ?? [])
      deps.logger.error('retry sweep could not check or restart a health driver', {
        webhookId,
        error: (error as Error)?.message ?? String(error),
      });
    if (result.errors.length > 0) {
      for (const { notificationId, error } of result.errors)
        deps.logger.error('retry sweep could not restart a retry', {
          notificationId,
          error: (error as Error)?.message ?? String(error),
        });
      // Failing the invocation has EventBridge repeat it with the same event (same slot):
      // what was started is not started again, the rest is tried again.
      throw new Error(`retry sweep: ${result.errors.length} retries could not be restarted`);
    }
    return summary;
  };
}
