/**
 * Attempt Lambda, invoked by the state machines (lambdas/core/retry-contract.ts): one
 * automatic retry (which starts the next retry's execution, or marks the notification FAILED
 * after the fifth), or one step of a webhook's health driver (lambdas/core/health/driver.ts).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { MetricsPublisher } from '../adapters/observability';
import type { DeliveryService } from '../core/delivery';
import type { HealthDriver, HealthDriverOutput } from '../core/health/driver';
import type {
  AttemptFunctionInput,
  AttemptLambdaInput,
  AttemptTaskOutput,
} from '../core/retry-contract';

export interface AttemptHandlerDeps {
  readonly service: DeliveryService;
  /** Published at the end of every invocation. */
  readonly metrics: MetricsPublisher;
  /** Gets a new log sampling decision per invocation (POWERTOOLS_LOGGER_SAMPLE_RATE). */
  readonly logger?: Pick<Logger, 'refreshSampleRateCalculation'>;
  /** Runs the health driver's steps; without it a health step ends its execution. */
  readonly driver?: HealthDriver;
}

/** A retry step answers with its retry's output, a health step with the driver's. */
export interface AttemptHandler {
  (input: AttemptLambdaInput): Promise<AttemptTaskOutput>;
  (input: AttemptFunctionInput): Promise<AttemptTaskOutput | HealthDriverOutput>;
}

export function createAttemptHandler(deps: AttemptHandlerDeps): AttemptHandler {
  const handle = async (
    input: AttemptFunctionInput,
  ): Promise<AttemptTaskOutput | HealthDriverOutput> => {
    deps.logger?.refreshSampleRateCalculation();
    try {
      if (input.action === 'health') {
        const step = { webhookId: input.webhookId, seq: input.seq, steps: input.steps };
        if (!deps.driver) return { ...step, done: true, wakeAt: new Date().toISOString() };
        return await deps.driver.step(step);
      }
      if (input.action === 'markFailed') {
        await deps.service.markFailed(input.notificationId);
        return {
          notificationId: input.notificationId,
          done: true,
          waitSeconds: 0,
          nextAttemptAt: new Date().toISOString(),
        };
      }
      // 'attempt': an execution started before the chain, which continues the series itself.
      return await deps.service.retry(input, { chain: input.action === 'retry' });
    } finally {
      if (deps.metrics.hasStoredMetrics()) deps.metrics.publishStoredMetrics();
    }
  };
  return handle as AttemptHandler;
}
