/**
 * The contract between the retry state machine (lib/constructs/retry-machine.ts) and the
 * attempt Lambda (lambdas/handlers/attempt.ts). The machine is written in JSONPath.
 *
 * Execution input (started by the delivery Lambda after a failed first attempt, name derived
 * from the notification id):      { notificationId, waitSeconds, nextAttemptAt }
 * For retry k = 1..5:  Wait (TimestampPath $.nextAttemptAt: the same instant the notification
 *                         record shows; a timestamp also allows the sub-second waits that
 *                         local mode's RETRY_TIME_SCALE produces)
 *                      -> Task "Attempt k" invoking the attempt Lambda with
 *                         { action: "attempt", notificationId, retry: k }
 *                         (payloadResponseOnly; the result replaces the state)
 *                      -> Choice: $.done == true -> Succeed; k < 5 -> Wait k+1
 * After retry 5: Task "MarkFailed" invoking the attempt Lambda with
 *                         { action: "markFailed", notificationId }, the end: it marks FAILED a
 *                         notification still WAITING and leaves any other alone.
 */
export interface RetryExecutionInput {
  readonly notificationId: string;
  /** Seconds to wait before retry 1 (jitter and Retry-After already applied). */
  readonly waitSeconds: number;
  /** ISO instant of retry 1 (now + waitSeconds); what the Wait state waits for. */
  readonly nextAttemptAt: string;
  /**
   * The retry the series starts at (default 1): a notification released by its health driver
   * continues its retries where parking interrupted them.
   */
  readonly startAt?: number;
}

export interface AttemptTaskInput {
  readonly action: 'attempt';
  readonly notificationId: string;
  /** 1..5 */
  readonly retry: number;
}

export interface MarkFailedTaskInput {
  readonly action: 'markFailed';
  readonly notificationId: string;
}

/** One step of a webhook's health driver (lambdas/core/health/driver.ts). */
export interface HealthTaskInput {
  readonly action: 'health';
  readonly webhookId: string;
  readonly seq: number;
  readonly steps: number;
}

export type AttemptLambdaInput = AttemptTaskInput | MarkFailedTaskInput;

/** Everything the attempt Lambda is invoked with: the retry steps and the health driver's. */
export type AttemptFunctionInput = AttemptLambdaInput | HealthTaskInput;

export interface AttemptTaskOutput {
  readonly notificationId: string;
  /** true: stop (sent, permanently failed, or settled elsewhere). */
  readonly done: boolean;
  /** Seconds to wait before the next retry (meaningful when done is false). */
  readonly waitSeconds: number;
  /** ISO instant of the next retry (meaningful when done is false; now when there is none). */
  readonly nextAttemptAt: string;
}

/** Step Functions execution names allow 80 characters of [A-Za-z0-9-_]. */
export function retryExecutionName(notificationId: string, startAt = 1): string {
  const suffix = startAt > 1 ? `-${startAt}` : '';
  return `retry-${notificationId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 70)}${suffix}`;
}

/** The health driver execution of a webhook, `seq`-th of its kind (one runs at a time). */
export function healthExecutionName(webhookId: string, seq: number): string {
  return `health-${webhookId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60)}-${seq}`;
}
