/**
 * Attempt Lambda, invoked by the retry state machine (lambdas/core/retry-contract.ts):
 * one automatic retry, or marking the notification FAILED after the fifth.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { DeliveryService } from '../core/delivery';
import type { AttemptLambdaInput, AttemptTaskOutput } from '../core/retry-contract';

export interface AttemptHandlerDeps {
  readonly service: DeliveryService;
  readonly metrics: Metrics;
  /** Gets a new log sampling decision per invocation (POWERTOOLS_LOGGER_SAMPLE_RATE). */
  readonly logger?: Pick<Logger, 'refreshSampleRateCalculation'>;
}

export function createAttemptHandler(deps: AttemptHandlerDeps) {
  return async (input: AttemptLambdaInput): Promise<AttemptTaskOutput> => {
    deps.logger?.refreshSampleRateCalculation();
    try {
      if (input.action === 'markFailed') {
        await deps.service.markFailed(input.notificationId);
        return {
          notificationId: input.notificationId,
          done: true,
          waitSeconds: 0,
          nextAttemptAt: new Date().toISOString(),
        };
      }
      return await deps.service.retry(input);
    } finally {
      if (deps.metrics.hasStoredMetrics()) deps.metrics.publishStoredMetrics();
    }
  };
}
