import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC_NAMES, METRICS_NAMESPACE } from '../../lambdas/config';
import { DEFAULTS } from '../../lambdas/defaults';
import { DEFAULT_SETTINGS } from '../config';
import { POWERTOOLS_SERVICE_NAME } from './handler-function';

export interface MonitoringProps {
  readonly httpApi: apigw.IHttpApi;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** The retry machine: one execution per retry. */
  readonly stateMachine: sfn.IStateMachine;
  /** The health drivers' machine. */
  readonly healthStateMachine: sfn.IStateMachine;
  /** Functions by the name shown on the dashboard. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** Subscribed to the alarm topic. Default: none. */
  readonly alarmEmail?: string;
  /** Oldest delivery message age that raises an alarm (seconds). Default 300. */
  readonly oldestMessageAlarmSeconds?: number;
  /** NotificationFailed / (Sent + Failed) over 5 minutes that raises an alarm. Default 0.05. */
  readonly failureRateThreshold?: number;
  /** Encrypts the alarm topic (the tables' key): CloudWatch may use it for that topic only. */
  readonly topicKey: kms.IKey;
  /** Scheduled retry sweeper runs lost (never started or dropped): one alarm. Default: none. */
  readonly sweeperRunsLost?: cw.IMetric;
  /** NAT instances (natProvider `instance`): 1 while one is unhealthy; on the dashboard, one alarm. */
  readonly natHealth?: readonly cw.IMetric[];
}

const PERIOD = Duration.minutes(5);
/** The gauges the retry sweeper writes once a sweep. */
const SWEEP_PERIOD = Duration.seconds(DEFAULTS.retrySweepIntervalSeconds);

/** The platform's own EMF metric (Powertools: namespace Webhooks, dimension service=webhooks). */
export function platformMetric(metricName: string, statistic = 'Sum'): cw.Metric {
  return new cw.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: POWERTOOLS_SERVICE_NAME },
    statistic,
    period: PERIOD,
  });
}

/** NotificationFailed / (NotificationSent + NotificationFailed), a period without one counting 0. */
export const FAILURE_RATE_EXPRESSION = 'FILL(failed, 0) / (FILL(sent, 0) + FILL(failed, 0))';

const WAITING_REASONS_PARKED = ['CIRCUIT_OPEN', 'PAUSED', 'RATE_LIMITED'] as const;

/** A platform metric emitted with a Reason dimension (destination health). */
function reasonMetric(metricName: string, reason: string, statistic = 'Sum'): cw.Metric {
  return new cw.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: POWERTOOLS_SERVICE_NAME, Reason: reason },
    statistic,
    period: PERIOD,
  });
}

/** One dashboard and the alarms of a region; alarms notify `alarmTopic`. */
export class Monitoring extends Construct {
  readonly dashboard: cw.Dashboard;
  readonly alarmTopic: sns.Topic;
  readonly alarms: cw.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);

    this.alarmTopic = encryptedAlarmTopic(this, props.topicKey);
    if (props.alarmEmail !== undefined) {
      this.alarmTopic.addSubscription(new subs.EmailSubscription(props.alarmEmail));
    }

    const sent = platformMetric(METRIC_NAMES.notificationSent);
    const failed = platformMetric(METRIC_NAMES.notificationFailed);
    const retries = platformMetric(METRIC_NAMES.retryScheduled);
    const deferred = platformMetric(METRIC_NAMES.deliveryDeferred);
    const ingested = platformMetric(METRIC_NAMES.eventsIngested);
    const latencyP50 = platformMetric(METRIC_NAMES.deliveryLatency, 'p50');
    const latencyP99 = platformMetric(METRIC_NAMES.deliveryLatency, 'p99');
    const queueVisible = props.queue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
      statistic: 'Maximum',
    });
    const queueInFlight = props.queue.metricApproximateNumberOfMessagesNotVisible({
      period: Duration.minutes(1),
      statistic: 'Maximum',
    });
    const oldest = props.queue.metricApproximateAgeOfOldestMessage({
      period: Duration.minutes(1),
      statistic: 'Maximum',
    });
    const dlqDepth = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: PERIOD,
      statistic: 'Maximum',
    });
    const executions = (machine: sfn.IStateMachine) => ({
      started: machine.metricStarted({ period: PERIOD }),
      failed: machine.metricFailed({ period: PERIOD }),
      timedOut: machine.metricTimedOut({ period: PERIOD }),
    });
    const retryExecutions = executions(props.stateMachine);
    const healthExecutions = executions(props.healthStateMachine);
    // Each count is emitted only in periods with such an outcome, and metric math has no value
    // where one operand has none: unfilled, a period where every notification failed (no
    // NotificationSent) would have no rate at all, and the alarm would stay OK.
    const failureRate = new cw.MathExpression({
      expression: FAILURE_RATE_EXPRESSION,
      usingMetrics: { sent, failed },
      label: 'Failure rate',
      period: PERIOD,
    });

    const fns = Object.entries(props.functions);
    const perFunction = (f: (fn: lambda.IFunction) => cw.IMetric): cw.IMetric[] =>
      fns.map(([name, fn]) => labelled(f(fn), name));

    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          graph('API requests', [props.httpApi.metricCount({ period: PERIOD })]),
          graph('API 4xx / 5xx', [
            labelled(props.httpApi.metricClientError({ period: PERIOD }), '4xx'),
            labelled(props.httpApi.metricServerError({ period: PERIOD }), '5xx'),
          ]),
          graph('API latency (ms)', [
            labelled(props.httpApi.metricLatency({ period: PERIOD, statistic: 'p50' }), 'p50'),
            labelled(props.httpApi.metricLatency({ period: PERIOD, statistic: 'p99' }), 'p99'),
          ]),
          graph(`Events ingested (${METRIC_NAMES.eventsIngested})`, [ingested]),
        ],
        [
          graph('Delivery queue depth', [
            labelled(queueVisible, 'visible'),
            labelled(queueInFlight, 'in flight'),
          ]),
          graph('Oldest message age (s)', [oldest]),
          graph('Dead-letter queue depth', [dlqDepth]),
          executionsGraph('Retry executions (one per retry)', retryExecutions),
        ],
        [
          graph('Notifications', [
            labelled(sent, 'sent'),
            labelled(failed, 'failed'),
            labelled(retries, 'retries scheduled'),
            labelled(platformMetric(METRIC_NAMES.retriesSwept), 'retries restarted by the sweeper'),
          ]),
          graph('Notification failure rate', [failureRate]),
          graph(`Delivery latency (${METRIC_NAMES.deliveryLatency}, ms)`, [
            labelled(latencyP50, 'p50'),
            labelled(latencyP99, 'p99'),
          ]),
          graph(`Queued again at a webhook's concurrency cap (${METRIC_NAMES.deliveryDeferred})`, [
            deferred,
          ]),
        ],
        [
          executionsGraph('Health driver executions', healthExecutions),
          graph('Destination health: circuits', [
            // A gauge: the retry sweeper counts the open circuits from the health records at
            // each sweep; the latest count of each sweep interval.
            labelled(
              platformMetric(METRIC_NAMES.openCircuits, 'Maximum').with({ period: SWEEP_PERIOD }),
              'open (at the last sweep)',
            ),
            labelled(platformMetric(METRIC_NAMES.circuitOpened), 'opened'),
            labelled(platformMetric(METRIC_NAMES.circuitClosed), 'closed'),
            labelled(platformMetric(METRIC_NAMES.webhookAutoDisabled), 'auto-disabled'),
          ]),
          graph(
            'Waiting notifications per reason',
            // Gauges the retry sweeper writes at each sweep: the latest per sweep interval.
            WAITING_REASONS_PARKED.map((reason) =>
              labelled(
                reasonMetric(METRIC_NAMES.waitingNotifications, reason, 'Maximum').with({
                  period: SWEEP_PERIOD,
                }),
                reason,
              ),
            ),
          ),
          graph('Parked and released', [
            ...WAITING_REASONS_PARKED.map((reason) =>
              labelled(reasonMetric(METRIC_NAMES.notificationParked, reason), `parked ${reason}`),
            ),
            labelled(platformMetric(METRIC_NAMES.notificationsReleased), 'released'),
          ]),
        ],
        [
          graph(
            'Lambda errors',
            perFunction((fn) => fn.metricErrors({ period: PERIOD })),
          ),
          graph(
            'Lambda throttles',
            perFunction((fn) => fn.metricThrottles({ period: PERIOD })),
          ),
          graph(
            'Lambda duration p99 (ms)',
            perFunction((fn) => fn.metricDuration({ period: PERIOD, statistic: 'p99' })),
          ),
          graph(
            'Lambda concurrency',
            perFunction((fn) =>
              fn.metric('ConcurrentExecutions', {
                period: Duration.minutes(1),
                statistic: 'Maximum',
              }),
            ),
          ),
        ],
      ],
    });

    this.alarm('DlqNotEmpty', {
      metric: dlqDepth,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription:
        'Delivery jobs reached the dead-letter queue: inspect, fix, then redrive them.',
    });
    this.alarm('OldestMessageAge', {
      metric: oldest,
      threshold: props.oldestMessageAlarmSeconds ?? DEFAULT_SETTINGS.oldestMessageAlarmSeconds,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      alarmDescription: 'Delivery is falling behind: the oldest queued job is getting old.',
    });
    this.alarm('FailureRate', {
      metric: failureRate,
      threshold: props.failureRateThreshold ?? DEFAULT_SETTINGS.failureRateAlarmThreshold,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      alarmDescription:
        'Share of notifications that finally failed: NotificationFailed / (NotificationSent + NotificationFailed).',
    });
    for (const [name, fn] of fns) {
      this.alarm(`${name}Errors`, {
        metric: fn.metricErrors({ period: PERIOD }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription: `The ${name} Lambda failed (uncaught error, timeout or crash).`,
      });
    }
    this.alarm('RetryExecutionsFailed', {
      metric: retryExecutions.failed,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription:
        'A retry execution failed: its notification waits until the retry sweeper restarts it, within about 45 minutes (see README, "Automatic retries").',
    });
    this.alarm('HealthExecutionsFailed', {
      metric: healthExecutions.failed,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription:
        "A health driver execution failed: its webhook's parked notifications wait for the next park or resume to start one.",
    });

    if (props.sweeperRunsLost !== undefined) {
      this.alarm('SweeperRunsLost', {
        metric: props.sweeperRunsLost,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription:
          'A scheduled run of the retry sweeper was lost (EventBridge could not invoke it, or Lambda dropped it: throttled for a whole sweep interval, or failed three times). While runs are lost, failed retry executions and dead health drivers are not restarted.',
      });
    }
    this.watchNatInstances(props.natHealth ?? []);

    this.dashboard.addWidgets(
      new cw.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }),
    );
  }

  /** Sender egress through NAT instances: their health on the dashboard, one alarm for all. */
  private watchNatInstances(checks: readonly cw.IMetric[]): void {
    if (checks.length === 0) return;
    this.dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'NAT instances: status check failed (1 = unhealthy)',
        left: [...checks],
        width: 24,
        height: 4,
      }),
    );
    this.alarm('NatInstanceUnhealthy', {
      metric: new cw.MathExpression({
        expression: `MAX([${checks.map((_, i) => `nat${i}`).join(', ')}])`,
        usingMetrics: Object.fromEntries(checks.map((m, i) => [`nat${i}`, m])),
        period: Duration.minutes(1),
        label: 'Worst NAT instance status check',
      }),
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription:
        'A NAT instance failed its status checks (or none was in service) for 3 minutes: webhooks through it cannot leave. Per-AZ instances are recovered or rebooted by their own alarms, a single one is replaced by its Auto Scaling group.',
    });
  }

  private alarm(id: string, props: Omit<cw.AlarmProps, 'treatMissingData'>): cw.Alarm {
    const alarm = new cw.Alarm(this, id, {
      ...props,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new cwActions.SnsAction(this.alarmTopic));
    alarm.addOkAction(new cwActions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
    return alarm;
  }
}

/**
 * The alarm topic, encrypted with `key`. Its name is fixed (stack name + `-alarms`) so the key
 * policy can name its ARN without a reference cycle: CloudWatch may have data keys of `key`
 * made and opened only under SNS's encryption context of this topic, for alarms of this
 * account, so it can publish alarms and read nothing else the key protects.
 */
function encryptedAlarmTopic(scope: Construct, key: kms.IKey): sns.Topic {
  const stack = Stack.of(scope);
  const topicName = `${stack.stackName}-alarms`;
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublishToTheAlarmTopic',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: {
        StringEquals: {
          'aws:SourceAccount': stack.account,
          'kms:EncryptionContext:aws:sns:topicArn': stack.formatArn({
            service: 'sns',
            resource: topicName,
          }),
        },
      },
    }),
  );
  const topic = new sns.Topic(scope, 'AlarmTopic', {
    topicName,
    displayName: 'Webhooks alarms',
    masterKey: key,
    enforceSSL: true,
  });
  // The topic policy (made for enforceSSL) replaces SNS's default one, which let the account's
  // alarms publish: without this statement every alarm action fails ("not authorized to perform
  // SNS:Publish ... because no resource-based policy allows"). This account's alarms only.
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsOfThisAccountPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: {
          'aws:SourceArn': stack.formatArn({
            service: 'cloudwatch',
            resource: 'alarm',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
  return topic;
}

function graph(title: string, left: cw.IMetric[]): cw.GraphWidget {
  return new cw.GraphWidget({ title, left, width: 6, height: 6 });
}

function labelled(metric: cw.IMetric, label: string): cw.IMetric {
  return metric instanceof cw.Metric ? metric.with({ label }) : metric;
}

function executionsGraph(
  title: string,
  m: { started: cw.IMetric; failed: cw.IMetric; timedOut: cw.IMetric },
): cw.GraphWidget {
  return graph(title, [
    labelled(m.started, 'started'),
    labelled(m.failed, 'failed'),
    labelled(m.timedOut, 'timed out'),
  ]);
}
