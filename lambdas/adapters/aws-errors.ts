/**
 * Which AWS errors are throttling: the service refused the call for load, not for what it
 * asked, and the same call succeeds later. The SDK retries these itself a few times; what
 * reaches our code was throttled on every try, and is to be tried again later through the
 * queue (README "Fairness between destinations" and "Delivery semantics"), never taken for a
 * failed job.
 */
import { QueueSendError } from './sqs-queue';

/** Error names (and SQS batch entry codes) of throttling across the services we call. */
const THROTTLING_NAMES = new Set([
  // DynamoDB
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ThrottlingException',
  // SQS (JSON protocol names, query-protocol codes in batch entries, KMS behind SSE)
  'RequestThrottled',
  'AWS.SimpleQueueService.RequestThrottled',
  'KmsThrottled',
  'KMS.ThrottlingException',
  'Throttling',
  // Step Functions: too many open executions refuses StartExecution until some end
  'ExecutionLimitExceeded',
  // KMS, Lambda and generic
  'TooManyRequestsException',
  'ThrottledException',
]);

interface AwsErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $retryable?: { readonly throttling?: unknown };
  readonly $metadata?: { readonly httpStatusCode?: unknown };
  /** DynamoDB TransactionCanceledException: one reason per item of the transaction. */
  readonly CancellationReasons?: readonly { readonly Code?: unknown }[];
  readonly cause?: unknown;
}

/** True when `error` (or an error it wraps as `cause`) says the call was throttled. */
export function isThrottlingError(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 5) return false;
  if (error instanceof QueueSendError) {
    // SendMessageBatch answered, but some entries were refused on every round.
    return (
      error.failures.length > 0 &&
      error.failures.every((f) => !f.senderFault && THROTTLING_NAMES.has(f.code))
    );
  }
  const e = error as AwsErrorShape;
  if (typeof e.name === 'string' && THROTTLING_NAMES.has(e.name)) return true;
  if (typeof e.code === 'string' && THROTTLING_NAMES.has(e.code)) return true;
  if (e.$retryable?.throttling === true) return true;
  if (e.$metadata?.httpStatusCode === 429) return true;
  if (
    e.name === 'TransactionCanceledException' &&
    Array.isArray(e.CancellationReasons) &&
    e.CancellationReasons.some((r) => r?.Code === 'ThrottlingError')
  )
    return true;
  return isThrottlingError(e.cause, depth + 1);
}
