/**
 * Attempt Lambda, invoked by the retry state machine (lambdas/core/retry-contract.ts):
 * one automatic retry, or marking the notification FAILED after the fifth.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { DeliveryService } from '../core/delivery';
import type { AttemptLambdaInput, AttemptTaskOutput } from '../core/retry-contract';

export interface AttemptHandlerDeps {
  readonly service: DeliveryService;
  readonly metrics: Metrics;
}

export function createAttemptHandler(deps: AttemptHandlerDeps) {
  return async (input: AttemptLambdaInput): Promise<AttemptTaskOutput> => {
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
