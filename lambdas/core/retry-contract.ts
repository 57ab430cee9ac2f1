/**
 * The contract between the state machines (lib/constructs/retry-machine.ts) and the attempt
 * Lambda (lambdas/handlers/attempt.ts). Both machines are written in JSONPath.
 *
 * Retry machine: ONE execution per retry (a chain), 2 billed state transitions each:
 *   Wait (TimestampPath $.nextAttemptAt: the instant the notification record shows; a
 *   timestamp also allows the sub-second waits of local mode's RETRY_TIME_SCALE)
 *   -> Task "Attempt" invoking the attempt Lambda with { action: "retry", notificationId,
 *      retry }, the end.
 * The Lambda records retry k (idempotent per retry number); when it fails and k < 5 it starts
 * the execution of retry k+1 itself (retryExecutionName, input from the stored record, so a
 * repeated invocation starts nothing new); when retry 5 fails it marks the notification FAILED.
 * The delivery Lambda starts retry 1 after a failed first attempt; a release by the health
 * driver starts the retry after its own attempt.
 *
 * Health machine: a webhook's health driver (lambdas/core/health/driver.ts) loops
 *   Task "Health step" { action: "health", webhookId, seq, steps } -> Choice ($.done ?
 *   Succeed : Wait ($.wakeAt) -> Health step).
 */
export interface RetryExecutionInput {
  readonly notificationId: string;
  /** The retry this execution makes, 1..5. */
  readonly retry: number;
  /** ISO instant of the retry; what the Wait state waits for. */
  readonly nextAttemptAt: string;
}

/** What a retry execution is started with; the name tells the executions of one retry apart. */
export interface RetryStart extends RetryExecutionInput {
  /**
   * Number of the attempt whose failure scheduled this retry. A notification parked during
   * retry k and released later gets its next retry from the release's own attempt, so every
   * execution has a name of its own that a repeat still computes the same.
   */
  readonly after: number;
  /**
   * Set on a replacement started by the retry sweeper (lambdas/core/retry-sweep.ts): the sweep's
   * time slot. It gives the replacement a name of its own (the failed execution's name cannot
   * be reused), the same for two sweeps of one slot.
   */
  readonly sweepSlot?: number;
}

/** Task input of the retry machine's Attempt state. */
export interface RetryTaskInput {
  readonly action: 'retry';
  readonly notificationId: string;
  /** 1..5 */
  readonly retry: number;
}

/**
 * Retry k of an execution started before the chain (one execution for all five retries, a
 * Choice after each): the Lambda answers for that Choice and starts nothing.
 */
export interface AttemptTaskInput {
  readonly action: 'attempt';
  readonly notificationId: string;
  /** 1..5 */
  readonly retry: number;
}

/** The last state of an execution started before the chain: FAILED if still WAITING. */
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

export type AttemptLambdaInput = RetryTaskInput | AttemptTaskInput | MarkFailedTaskInput;

/** Everything the attempt Lambda is invoked with: the retry steps and the health driver's. */
export type AttemptFunctionInput = AttemptLambdaInput | HealthTaskInput;

export interface AttemptTaskOutput {
  readonly notificationId: string;
  /** true: the series is over (sent, failed for good, parked, or settled elsewhere). */
  readonly done: boolean;
  /** Seconds to wait before the next retry (meaningful when done is false). */
  readonly waitSeconds: number;
  /** ISO instant of the next retry (meaningful when done is false; now when there is none). */
  readonly nextAttemptAt: string;
}

/**
 * `retry-<notification id>-<k>-<n>`: retry k scheduled by attempt n; a sweeper's replacement
 * adds `-s<slot>` (its sweep slot). Step Functions execution names allow 80 characters of
 * [A-Za-z0-9-_]; a notification id is 30.
 */
export function retryExecutionName(
  start: Pick<RetryStart, 'notificationId' | 'retry' | 'after' | 'sweepSlot'>,
): string {
  const sweep = start.sweepSlot === undefined ? '' : `-s${start.sweepSlot}`;
  return `${retryExecutionPrefix(start.notificationId)}${start.retry}-${start.after}${sweep}`;
}

/** What every retry execution of a notification's name starts with (console search). */
export function retryExecutionPrefix(notificationId: string): string {
  return `retry-${notificationId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60)}-`;
}

/** The health driver execution of a webhook, `seq`-th of its kind (one runs at a time). */
export function healthExecutionName(webhookId: string, seq: number): string {
  return `health-${webhookId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60)}-${seq}`;
}
