/**
 * SQS-triggered delivery Lambda: each record is one DeliveryJob. Records of a batch are
 * delivered concurrently (bounded); failed records are reported as partial batch failures so
 * SQS redelivers only them (and, after maxReceiveCount, moves them to the DLQ).
 */
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { forEachBounded } from '../core/concurrency';
import type { DeliveryService } from '../core/delivery';
import { parseDeliveryJob } from '../core/jobs';
import { createDeliveryRuntime, lazy } from '../adapters/delivery-wiring';

export interface DeliveryHandlerDeps {
  readonly service: DeliveryService;
  readonly concurrency: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export function createDeliveryHandler(deps: DeliveryHandlerDeps) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchItemFailure[] = [];
    try {
      await forEachBounded(event.Records, deps.concurrency, async (record) => {
        try {
          const sentAt = Number(record.attributes?.SentTimestamp);
          await deps.service.handleJob(parseDeliveryJob(record.body), {
            enqueuedAt: Number.isFinite(sentAt) ? new Date(sentAt) : undefined,
          });
        } catch (error) {
          deps.logger.error('delivery job failed; SQS will redeliver it', { messageId: record.messageId, error });
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      });
    } finally {
      if (deps.metrics.hasStoredMetrics()) deps.metrics.publishStoredMetrics();
    }
    return { batchItemFailures };
  };
}

const runtime = lazy(() => {
  const { service, logger, metrics, config } = createDeliveryRuntime();
  return createDeliveryHandler({ service, logger, metrics, concurrency: config.deliveryConcurrency });
});

export const handler = (event: SQSEvent): Promise<SQSBatchResponse> => runtime()(event);
