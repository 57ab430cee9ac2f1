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

export type AttemptLambdaInput = AttemptTaskInput | MarkFailedTaskInput;

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
export function retryExecutionName(notificationId: string): string {
  return `retry-${notificationId}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
}
