/**
 * Starts the retry state machine after a failed first attempt. The execution is named after the
 * notification, so a duplicated SQS delivery cannot start a second one.
 */
import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type RetryExecutionInput, retryExecutionName } from '../core/retry-contract';
import type { RetryScheduler } from '../ports';

export class SfnRetryScheduler implements RetryScheduler {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(input: RetryExecutionInput): Promise<void> {
    const payload: RetryExecutionInput = {
      notificationId: input.notificationId,
      waitSeconds: input.waitSeconds,
      nextAttemptAt: input.nextAttemptAt,
    };
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: retryExecutionName(input.notificationId),
          input: JSON.stringify(payload),
        }),
      );
    } catch (err) {
      // An execution with this name exists (running or finished): the retries are already
      // owned by it. Anything else (throttling included) propagates, so the SQS message is
      // retried through its visibility timeout instead of being dropped.
      if (
        err instanceof ExecutionAlreadyExists ||
        (err as { name?: string }).name === 'ExecutionAlreadyExists'
      )
        return;
      throw err;
    }
  }
}
