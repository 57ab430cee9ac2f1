import { CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { AttemptTaskInput, MarkFailedTaskInput } from '../../lambdas/core/retry-contract';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../../lambdas/core/retry-schedule';
import { validateRetrySchedule } from '../config';

/** State names of the machine; local mode and tests bind stand-in functions by these names. */
export const RETRY_STATE_NAMES = {
  wait: (retry: number): string => `Wait ${retry}`,
  attempt: (retry: number): string => `Attempt ${retry}`,
  check: (retry: number): string => `Done after attempt ${retry}?`,
  markFailed: 'MarkFailed',
  settled: 'Settled',
} as const;

export interface RetryMachineProps {
  /** The attempt Lambda (lambdas/handlers/attempt.ts). */
  readonly attemptFunction: lambda.IFunction;
  /**
   * Nominal waits before retries 1..n (seconds): one Wait -> Attempt -> Choice step each.
   * Each step waits until `$.nextAttemptAt`, which the Lambdas compute from this same
   * schedule (jitter, Retry-After). Default DEFAULT_RETRY_SCHEDULE_SECONDS.
   */
  readonly scheduleSeconds?: readonly number[];
  /** Execution history to CloudWatch Logs (level ALL) and X-Ray tracing. Default true. */
  readonly observability?: boolean;
  /** Log retention of the execution log group. Default one month. */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The automatic retries of one notification, started by the delivery Lambda after a failed
 * first attempt (see lambdas/core/retry-contract.ts). Standard workflow, JSONPath only.
 *   Wait k (TimestampPath $.nextAttemptAt) -> Attempt k -> Choice ($.done ? Settled : Wait k+1)
 *   after the last: MarkFailed -> Settled
 */
export class RetryMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly scheduleSeconds: readonly number[];
  readonly logGroup?: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RetryMachineProps) {
    super(scope, id);
    const schedule = props.scheduleSeconds ?? DEFAULT_RETRY_SCHEDULE_SECONDS;
    validateRetrySchedule(schedule);
    this.scheduleSeconds = schedule;

    const settled = new sfn.Succeed(this, RETRY_STATE_NAMES.settled);
    const markFailedAction: MarkFailedTaskInput['action'] = 'markFailed';
    const markFailed = this.invoke(RETRY_STATE_NAMES.markFailed, props.attemptFunction, {
      action: markFailedAction,
      notificationId: sfn.JsonPath.stringAt('$.notificationId'),
    }).next(settled);

    const attemptAction: AttemptTaskInput['action'] = 'attempt';
    // Built from the last step backwards so each Choice can point at the next Wait.
    let next: sfn.IChainable = markFailed;
    for (let retry = schedule.length; retry >= 1; retry--) {
      const wait = new sfn.Wait(this, RETRY_STATE_NAMES.wait(retry), {
        // The instant the notification record shows as nextAttemptAt; a timestamp (unlike
        // SecondsPath) also carries the sub-second waits of local mode's RETRY_TIME_SCALE.
        time: sfn.WaitTime.timestampPath('$.nextAttemptAt'),
      });
      const attempt = this.invoke(RETRY_STATE_NAMES.attempt(retry), props.attemptFunction, {
        action: attemptAction,
        notificationId: sfn.JsonPath.stringAt('$.notificationId'),
        retry,
      });
      const check = new sfn.Choice(this, RETRY_STATE_NAMES.check(retry))
        .when(sfn.Condition.booleanEquals('$.done', true), settled)
        .otherwise(next);
      next = wait.next(attempt).next(check);
    }

    const observability = props.observability ?? true;
    if (observability) {
      this.logGroup = new logs.LogGroup(this, 'Executions', {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
    }
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      comment: `Automatic retries of one notification: ${schedule.length} x (Wait -> Attempt -> Choice), then MarkFailed`,
      definitionBody: sfn.DefinitionBody.fromChainable(next),
      tracingEnabled: observability,
      ...(this.logGroup === undefined
        ? {}
        : { logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false } }),
    });
    this.acknowledgeNagFindings(props.attemptFunction);
  }

  private acknowledgeNagFindings(fn: lambda.IFunction): void {
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'CloudWatch Logs delivery and X-Ray tracing actions of Step Functions support no resource-level permissions.',
    });
    const cfn = fn.node.defaultChild;
    if (cfn instanceof CfnElement) {
      Validations.of(this.stateMachine).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(cfn)}.Arn>:*]`,
        reason: 'Invoking the attempt Lambda by any of its versions; the function itself is fixed.',
      });
    }
  }

  private invoke(name: string, fn: lambda.IFunction, payload: Record<string, unknown>): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, name, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(payload),
      // The Lambda's result replaces the state: { notificationId, done, waitSeconds, nextAttemptAt }.
      payloadResponseOnly: true,
      // Adds Retry on Lambda.ServiceException, AWSLambdaException, SdkClientException, ClientExecutionTimeoutException.
      retryOnServiceExceptions: true,
    });
    task.addRetry({
      errors: ['Lambda.TooManyRequestsException'],
      interval: Duration.seconds(5),
      maxAttempts: 8,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    // A failing attempt Lambda (e.g. DynamoDB throttling) gets a few more tries before the
    // execution fails and the ExecutionsFailed alarm fires; attempts are idempotent per number.
    task.addRetry({
      errors: ['States.TaskFailed'],
      interval: Duration.seconds(30),
      maxAttempts: 3,
      backoffRate: 2,
    });
    return task;
  }
}
