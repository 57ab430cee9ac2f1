/**
 * SQS-triggered delivery Lambda: each record is one DeliveryJob. Records of a batch are
 * delivered concurrently (bounded); failed records are reported as partial batch failures so
 * SQS redelivers only them (and, after maxReceiveCount, moves them to the DLQ).
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { isThrottlingError } from '../adapters/aws-errors';
import type { MetricsPublisher } from '../adapters/observability';
import { forEachBounded } from '../core/concurrency';
import type { DeliveryService } from '../core/delivery';
import { jobKey, parseDeliveryJob } from '../core/jobs';
import type { DeliveryJob } from '../core/model';

export interface DeliveryHandlerDeps {
  readonly service: DeliveryService;
  readonly concurrency: number;
  readonly logger: Logger;
  /** Published at the end of every invocation. */
  readonly metrics: MetricsPublisher;
}

/** What the handler logs (WARN) for each record put back into the queue after throttling. */
export const THROTTLED_JOB_LOG_MESSAGE = 'delivery job throttled; queued again';

/** What the handler logs (ERROR) for each record that failed and goes back to the queue. */
export const FAILED_JOB_LOG_MESSAGE = 'delivery job failed; SQS will redeliver it';

export function createDeliveryHandler(deps: DeliveryHandlerDeps) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchItemFailure[] = [];
    // At-least-once delivery can put two copies of a job in one batch: run it once.
    const started = new Set<string>();
    try {
      await forEachBounded(event.Records, deps.concurrency, async (record) => {
        let job: DeliveryJob | undefined;
        try {
          job = parseDeliveryJob(record.body);
          const key = jobKey(job);
          if (started.has(key)) {
            deps.logger.info('duplicate job in batch skipped', {
              messageId: record.messageId,
              key,
            });
            return;
          }
          started.add(key);
          const sentAt = Number(record.attributes?.SentTimestamp);
          const received = Number(record.attributes?.ApproximateReceiveCount);
          await deps.service.handleJob(job, {
            enqueuedAt: Number.isFinite(sentAt) ? new Date(sentAt) : undefined,
            receiveCount: Number.isInteger(received) && received > 0 ? received : undefined,
          });
        } catch (caught) {
          let error = caught;
          // Throttled (a table, the queue, StartExecution): tried again later as a new message,
          // so the receive count that leads to the dead-letter queue does not grow.
          if (job && isThrottlingError(error)) {
            try {
              const delaySeconds = await deps.service.requeueThrottled(job);
              deps.logger.warn(THROTTLED_JOB_LOG_MESSAGE, {
                messageId: record.messageId,
                key: jobKey(job),
                delaySeconds,
                error,
              });
              return;
            } catch (requeueError) {
              error = requeueError;
            }
          }
          deps.logger.error(FAILED_JOB_LOG_MESSAGE, {
            messageId: record.messageId,
            error,
          });
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      });
    } finally {
      if (deps.metrics.hasStoredMetrics()) deps.metrics.publishStoredMetrics();
    }
    return { batchItemFailures };
  };
}
