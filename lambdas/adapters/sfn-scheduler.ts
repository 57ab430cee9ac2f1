/**
 * Starts executions of the two state machines: a retry of a notification (named after the
 * notification, the retry and the attempt that scheduled it, so a repeated start cannot start a
 * second one), and a webhook's health driver (named after the webhook and its sequence
 * number: one at a time).
 */
import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  healthExecutionName,
  type RetryExecutionInput,
  type RetryStart,
  retryExecutionName,
} from '../core/retry-contract';
import type { HealthDriverInput, HealthDriverScheduler, RetryScheduler } from '../ports';

export interface StateMachineArns {
  readonly retry: string;
  readonly health: string;
}

export class SfnRetryScheduler implements RetryScheduler, HealthDriverScheduler {
  constructor(
    private readonly client: SFNClient,
    private readonly arns: StateMachineArns,
  ) {}

  async start(input: RetryStart): Promise<void> {
    // Only what the record holds, so a repeat sends the same input (same name + same input
    // is the same execution while it runs).
    const payload: RetryExecutionInput = {
      notificationId: input.notificationId,
      retry: input.retry,
      nextAttemptAt: input.nextAttemptAt,
    };
    await this.startNamed(this.arns.retry, retryExecutionName(input), payload);
  }

  async startDriver(input: HealthDriverInput): Promise<void> {
    const payload: HealthDriverInput = {
      webhookId: input.webhookId,
      seq: input.seq,
      steps: input.steps,
    };
    await this.startNamed(
      this.arns.health,
      healthExecutionName(input.webhookId, input.seq),
      payload,
    );
  }

  private async startNamed(stateMachineArn: string, name: string, payload: unknown): Promise<void> {
    try {
      await this.client.send(
        new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(payload) }),
      );
    } catch (err) {
      // An execution with this name exists (running or finished): the work is already owned
      // by it. Anything else (throttling included) propagates: the SQS message or the
      // attempt Lambda's task is retried instead of the work being dropped.
      if (
        err instanceof ExecutionAlreadyExists ||
        (err as { name?: string }).name === 'ExecutionAlreadyExists'
      )
        return;
      throw err;
    }
  }
}
