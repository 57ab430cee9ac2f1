/**
 * Starts executions of the retry state machine: a notification's retries after a failed
 * attempt (named after the notification and the retry the series starts at, so a duplicated
 * SQS delivery cannot start a second one), and a webhook's health driver (named after the
 * webhook and its sequence number: one at a time).
 */
import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  healthExecutionName,
  type RetryExecutionInput,
  retryExecutionName,
} from '../core/retry-contract';
import type { HealthDriverInput, HealthDriverScheduler, RetryScheduler } from '../ports';

export class SfnRetryScheduler implements RetryScheduler, HealthDriverScheduler {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(input: RetryExecutionInput): Promise<void> {
    const startAt = input.startAt ?? 1;
    const payload: RetryExecutionInput = {
      notificationId: input.notificationId,
      waitSeconds: input.waitSeconds,
      nextAttemptAt: input.nextAttemptAt,
      ...(startAt > 1 ? { startAt } : {}),
    };
    await this.startNamed(retryExecutionName(input.notificationId, startAt), payload);
  }

  async startDriver(input: HealthDriverInput): Promise<void> {
    const payload: HealthDriverInput = {
      webhookId: input.webhookId,
      seq: input.seq,
      steps: input.steps,
    };
    await this.startNamed(healthExecutionName(input.webhookId, input.seq), payload);
  }

  private async startNamed(name: string, payload: unknown): Promise<void> {
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(payload),
        }),
      );
    } catch (err) {
      // An execution with this name exists (running or finished): the work is already owned
      // by it. Anything else (throttling included) propagates, so the SQS message is retried
      // through its visibility timeout instead of being dropped.
      if (
        err instanceof ExecutionAlreadyExists ||
        (err as { name?: string }).name === 'ExecutionAlreadyExists'
      )
        return;
      throw err;
    }
  }
}
