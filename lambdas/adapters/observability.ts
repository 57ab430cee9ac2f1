/**
 * Powertools Logger (JSON, notificationId/webhookId on every delivery line) and Metrics (EMF,
 * namespace and names shared with the dashboard via lambdas/config.ts). Secrets never reach
 * these: the observer is handed attempts and ids, never requests or definitions.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { METRIC_NAMES, METRICS_NAMESPACE } from '../config';
import type { Attempt } from '../core/model';
import type { DeliveryObserver, HealthObserver } from '../ports';

export type { Logger, Metrics };

/** What a handler does with metrics at the end of each invocation. */
export interface MetricsPublisher {
  hasStoredMetrics(): boolean;
  publishStoredMetrics(): unknown;
}

export const SERVICE_NAME = 'webhooks';

export function createLogger(): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });
}

export function createMetrics(): Metrics {
  return new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
  });
}

/**
 * The Lambda entry point of `handler`: each invocation's Lambda context (request id, function
 * name and version, cold start) goes on the logger's lines before the handler runs.
 */
export function withLambdaContext<E, R>(
  logger: Logger,
  handler: (event: E) => Promise<R>,
): (event: E, context: Context) => Promise<R> {
  return (event, context) => {
    logger.addContext(context);
    // A new log sampling decision per invocation (POWERTOOLS_LOGGER_SAMPLE_RATE).
    logger.refreshSampleRateCalculation();
    return handler(event);
  };
}

function attemptFields(attempt: Attempt | undefined) {
  if (!attempt) return {};
  const { number, trigger, statusCode, error, durationMs } = attempt;
  return { attempt: { number, trigger, statusCode, error, durationMs } };
}

export function createDeliveryObserver(logger: Logger, metrics: Metrics): DeliveryObserver {
  return {
    sent(ref, attempt, latencyMs) {
      metrics.addMetric(METRIC_NAMES.notificationSent, MetricUnit.Count, 1);
      if (latencyMs !== undefined)
        metrics.addMetric(METRIC_NAMES.deliveryLatency, MetricUnit.Milliseconds, latencyMs);
      // Successes are counted by the metric; their log line is DEBUG, written only by the
      // invocations Powertools samples (POWERTOOLS_LOGGER_SAMPLE_RATE). Failures always log.
      logger.debug('notification sent', { ...ref, ...attemptFields(attempt), latencyMs });
    },
    failed(ref, reason, attempt) {
      metrics.addMetric(METRIC_NAMES.notificationFailed, MetricUnit.Count, 1);
      logger.warn('notification failed', { ...ref, reason, ...attemptFields(attempt) });
    },
    retryScheduled(ref, attempt, waitSeconds) {
      metrics.addMetric(METRIC_NAMES.retryScheduled, MetricUnit.Count, 1);
      logger.info('retry scheduled', { ...ref, ...attemptFields(attempt), waitSeconds });
    },
    attemptFailed(ref, attempt) {
      logger.info('attempt failed', { ...ref, ...attemptFields(attempt) });
    },
    duplicate(ref, what) {
      logger.info('duplicate skipped', { ...ref, what });
    },
    deferred(ref, deferrals, delaySeconds) {
      metrics.addMetric(METRIC_NAMES.deliveryDeferred, MetricUnit.Count, 1);
      logger.info('webhook at its concurrency cap; job queued again', {
        ...ref,
        deferrals,
        delaySeconds,
      });
    },
    warn(message, ref, detail) {
      logger.warn(message, { ...ref, ...detail });
    },
  };
}

/** Emits a metric with a Reason dimension on its own EMF line (the batch keeps no dimension). */
function withReason(metrics: Metrics, name: string, reason: string, value: number): void {
  const single = metrics.singleMetric();
  single.addDimension('Reason', reason);
  single.addMetric(name, MetricUnit.Count, value);
}

/** The health observer of a Lambda, with the parked counts it sums in memory between flushes. */
export interface PlatformHealthObserver extends HealthObserver {
  /** True while some parked count has not been emitted yet. */
  hasPendingMetrics(): boolean;
  /** Emits the parked counts summed since the last flush (one EMF line per reason). */
  flushMetrics(): void;
}

/**
 * The end of an invocation: the health observer's parked counts, then the batch. A Lambda's
 * container may never run again, so what it summed must go out with the invocation that summed it.
 */
export function invocationMetrics(
  metrics: MetricsPublisher,
  health: Pick<PlatformHealthObserver, 'hasPendingMetrics' | 'flushMetrics'>,
): MetricsPublisher {
  return {
    hasStoredMetrics: () => health.hasPendingMetrics() || metrics.hasStoredMetrics(),
    publishStoredMetrics: () => {
      health.flushMetrics();
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}

export function createHealthObserver(logger: Logger, metrics: Metrics): PlatformHealthObserver {
  const parked = new Map<string, number>();
  const flushParked = () => {
    for (const [reason, n] of parked) {
      if (n > 0) withReason(metrics, METRIC_NAMES.notificationParked, reason, n);
      parked.set(reason, 0);
    }
  };
  return {
    hasPendingMetrics: () => [...parked.values()].some((n) => n > 0),
    flushMetrics: flushParked,
    parked(ref, reason) {
      // Summed per invocation and flushed with its metrics (invocationMetrics): no EMF line per
      // notification.
      parked.set(reason, (parked.get(reason) ?? 0) + 1);
      logger.info('notification parked', { ...ref, reason });
      if ((parked.get(reason) ?? 0) >= 100) {
        withReason(metrics, METRIC_NAMES.notificationParked, reason, parked.get(reason) ?? 0);
        parked.set(reason, 0);
      }
    },
    released(webhookId, count) {
      flushParked();
      if (count > 0) metrics.addMetric(METRIC_NAMES.notificationsReleased, MetricUnit.Count, count);
      logger.info('parked notifications released', { webhookId, count });
    },
    circuitOpened(webhookId, consecutiveFailures) {
      metrics.addMetric(METRIC_NAMES.circuitOpened, MetricUnit.Count, 1);
      logger.warn('circuit opened', { webhookId, consecutiveFailures });
    },
    circuitClosed(webhookId) {
      metrics.addMetric(METRIC_NAMES.circuitClosed, MetricUnit.Count, 1);
      logger.info('circuit closed', { webhookId });
    },
    webhookDisabled(webhookId) {
      metrics.addMetric(METRIC_NAMES.webhookAutoDisabled, MetricUnit.Count, 1);
      logger.warn('webhook auto-disabled: its circuit stayed open too long', { webhookId });
    },
    stepFailed(webhookId, error) {
      logger.error('health driver step failed; it runs again shortly', { webhookId, error });
    },
    driverRestarted(webhookId, seq, lastBeatAt) {
      logger.warn('health driver stopped beating; a new one was started', {
        webhookId,
        seq,
        lastBeatAt,
      });
    },
    heartbeat(webhookId, { open, waiting }) {
      // Open circuits and waiting notifications are counted by the retry sweeper from the
      // health records (exact gauges at each sweep); this log line still says them per webhook.
      logger.info('destination health', { webhookId, open, waiting });
    },
  };
}

/**
 * The observers of the delivery and attempt Lambdas over one Metrics batch, and what their
 * handlers publish at the end of an invocation.
 */
export function createDeliveryObservability(logger: Logger, metrics: Metrics) {
  const health = createHealthObserver(logger, metrics);
  return {
    delivery: createDeliveryObserver(logger, metrics),
    health,
    metrics: invocationMetrics(metrics, health),
  };
}
