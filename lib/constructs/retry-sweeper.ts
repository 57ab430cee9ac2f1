import { Duration } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config';
import { DEFAULTS } from '../../lambdas/defaults';
import { DEFAULT_SETTINGS } from '../config';
import { HandlerFunction } from './handler-function';
import type { Tables } from './tables';

/** The sweeper's timeout: a few hundred record reads and StartExecution calls, 8 at a time. */
export const SWEEPER_TIMEOUT = Duration.seconds(120);

export interface RetrySweeperProps {
  readonly tables: Tables;
  /** The retry machine whose failed executions the sweeper replaces. */
  readonly retryMachine: sfn.IStateMachine;
  /** The health machine whose drivers presumed dead the sweeper restarts. */
  readonly healthMachine: sfn.IStateMachine;
  /** Minutes past its nextAttemptAt before a retry is restarted. Default 30. */
  readonly graceMinutes?: number;
  /** The most retries one sweep starts. Default 300. */
  readonly maxStarts?: number;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The retry sweeper (lambdas/core/retry-sweep.ts): a small Lambda run every 15 minutes by an
 * EventBridge schedule. It restarts retries whose execution failed for good, and health
 * drivers presumed dead (lambdas/core/health/driver-watch.ts): it reads the Notifications
 * table and the Webhooks table's ids, writes only health records, and starts executions of
 * the two machines; outside the VPC (it sends no webhooks, opens no secret).
 */
export class RetrySweeper extends Construct {
  readonly function: HandlerFunction;
  readonly rule: events.Rule;

  /**
   * Scheduled runs lost: EventBridge could not invoke the function (`FailedInvocations` of the
   * rule), or Lambda dropped a run it could not start in time (throttled) or that failed all its
   * tries (`AsyncEventsDropped`). One data point per sweep interval.
   */
  metricRunsLost(): cw.IMetric {
    const period = Duration.seconds(DEFAULTS.retrySweepIntervalSeconds);
    return new cw.MathExpression({
      expression: 'FILL(dropped, 0) + FILL(failedInvocations, 0)',
      usingMetrics: {
        dropped: this.function.metric('AsyncEventsDropped', { period, statistic: 'Sum' }),
        failedInvocations: new cw.Metric({
          namespace: 'AWS/Events',
          metricName: 'FailedInvocations',
          dimensionsMap: { RuleName: this.rule.ruleName },
          period,
          statistic: 'Sum',
        }),
      },
      period,
      label: 'retry sweeper runs lost',
    });
  }

  constructor(scope: Construct, id: string, props: RetrySweeperProps) {
    super(scope, id);
    const interval = Duration.seconds(DEFAULTS.retrySweepIntervalSeconds);
    this.function = new HandlerFunction(this, 'SweeperFunction', {
      handler: 'sweeper',
      description:
        'Webhooks: restarts automatic retries whose state machine execution failed for good (scheduled)',
      memorySize: 256,
      timeout: SWEEPER_TIMEOUT,
      environment: {
        [ENV.NOTIFICATIONS_TABLE]: props.tables.notifications.tableName,
        [ENV.RETRY_STATE_MACHINE_ARN]: props.retryMachine.stateMachineArn,
        [ENV.RETRY_SWEEP_GRACE_SECONDS]: String(
          (props.graceMinutes ?? DEFAULT_SETTINGS.retrySweepGraceMinutes) * 60,
        ),
        [ENV.RETRY_SWEEP_MAX_STARTS]: String(
          props.maxStarts ?? DEFAULT_SETTINGS.retrySweepMaxStarts,
        ),
        [ENV.RETRY_SWEEP_INTERVAL_SECONDS]: String(interval.toSeconds()),
        [ENV.WEBHOOKS_TABLE]: props.tables.webhooks.tableName,
        [ENV.HEALTH_STATE_MACHINE_ARN]: props.healthMachine.stateMachineArn,
      },
      logRetention: props.logRetention,
    });
    props.tables.grantNotificationsSweep(this.function);
    props.retryMachine.grantStartExecution(this.function);
    // The driver watch: webhook ids, health records (read, and the lease written), drivers.
    props.tables.grantWebhookIds(this.function);
    props.tables.grantHealthRecords(this.function);
    props.healthMachine.grantStartExecution(this.function);

    // A run Lambda could not start within one interval is worth nothing: the next one is due.
    // Dropped instead of kept for the default 6 hours, it shows as AsyncEventsDropped, which
    // the `SweeperRunsLost` alarm watches (a persistently throttled sweeper alarms at once).
    this.function.configureAsyncInvoke({ maxEventAge: interval, retryAttempts: 2 });

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Webhooks: runs the retry sweeper',
      schedule: events.Schedule.rate(interval),
    });
    // A failed run is repeated with the same event (same sweep slot) by EventBridge.
    this.rule.addTarget(
      new targets.LambdaFunction(this.function, {
        retryAttempts: 2,
        maxEventAge: Duration.minutes(10),
      }),
    );
  }
}
