/**
 * Which AWS errors count as throttling (retried later through the queue, never a failed job):
 * the SDK's own exception classes and the shapes its deserializers give unmodeled errors.
 */
import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { ExecutionLimitExceeded, SFNServiceException } from '@aws-sdk/client-sfn';
import { QueueDoesNotExist, SQSServiceException } from '@aws-sdk/client-sqs';
import { isThrottlingError } from '../../lambdas/adapters/aws-errors';
import { QueueSendError } from '../../lambdas/adapters/sqs-queue';

const $metadata = { httpStatusCode: 400 };

describe('isThrottlingError', () => {
  it('knows DynamoDB throttling by its exception classes', () => {
    expect(
      isThrottlingError(new ProvisionedThroughputExceededException({ message: 'x', $metadata })),
    ).toBe(true);
    expect(isThrottlingError(new RequestLimitExceeded({ message: 'x', $metadata }))).toBe(true);
  });

  it('knows a transaction cancelled because one of its items was throttled', () => {
    const cancelled = (code: string) =>
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata,
        CancellationReasons: [{ Code: 'None' }, { Code: code }],
      });
    expect(isThrottlingError(cancelled('ThrottlingError'))).toBe(true);
    expect(isThrottlingError(cancelled('ConditionalCheckFailed'))).toBe(false);
  });

  it('knows unmodeled throttling by name, by $retryable and by HTTP 429', () => {
    const named = new SFNServiceException({
      name: 'ThrottlingException',
      $fault: 'client',
      message: 'Rate exceeded',
      $metadata,
    });
    expect(isThrottlingError(named)).toBe(true);
    expect(isThrottlingError(new ExecutionLimitExceeded({ message: 'x', $metadata }))).toBe(true);
    const retryable = Object.assign(
      new SQSServiceException({ name: 'Unknown', $fault: 'server', message: 'x', $metadata }),
      { $retryable: { throttling: true } },
    );
    expect(isThrottlingError(retryable)).toBe(true);
    const tooMany = new SQSServiceException({
      name: 'Unknown',
      $fault: 'client',
      message: 'x',
      $metadata: { httpStatusCode: 429 },
    });
    expect(isThrottlingError(tooMany)).toBe(true);
    expect(isThrottlingError(new Error('wrapped', { cause: named }))).toBe(true);
  });

  it('knows a SendMessageBatch whose entries were refused for throttling on every round', () => {
    const failed = (...codes: [string, boolean][]) =>
      new QueueSendError(
        'not queued',
        codes.map(([code, senderFault], index) => ({ index, code, senderFault })),
      );
    expect(isThrottlingError(failed(['RequestThrottled', false], ['KmsThrottled', false]))).toBe(
      true,
    );
    expect(
      isThrottlingError(failed(['RequestThrottled', false], ['InvalidParameterValue', true])),
    ).toBe(false);
    expect(isThrottlingError(failed(['InternalError', false]))).toBe(false);
  });

  it('does not take other errors for throttling', () => {
    expect(
      isThrottlingError(new ConditionalCheckFailedException({ message: 'x', $metadata })),
    ).toBe(false);
    expect(isThrottlingError(new QueueDoesNotExist({ message: 'x', $metadata }))).toBe(false);
    expect(isThrottlingError(new Error('boom'))).toBe(false);
    expect(isThrottlingError(undefined)).toBe(false);
    expect(isThrottlingError('ThrottlingException')).toBe(false);
  });
});
