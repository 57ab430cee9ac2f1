import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { type ResolvedSettings, resolveSettings, type WebhooksSettings } from './config';
import { Api } from './constructs/api';
import { OperatorConsole } from './constructs/console';
import { Delivery } from './constructs/delivery';
import { EgressNetwork } from './constructs/egress-network';
import { Monitoring } from './constructs/monitoring';
import { RetrySweeper } from './constructs/retry-sweeper';
import { Tables } from './constructs/tables';

export interface WebhooksStackProps extends StackProps {
  readonly settings?: WebhooksSettings;
}

/** The whole platform in one region (README "Deploy"). */
export class WebhooksStack extends Stack {
  readonly settings: ResolvedSettings;
  readonly network: EgressNetwork;
  readonly tables: Tables;
  readonly delivery: Delivery;
  readonly retrySweeper: RetrySweeper;
  readonly api: Api;
  readonly monitoring: Monitoring;
  /** Absent with `console: false`. */
  readonly console?: OperatorConsole;

  constructor(scope: Construct, id: string, props: WebhooksStackProps = {}) {
    super(scope, id, props);
    const s = resolveSettings(props.settings);
    this.settings = s;
    const logRetention = retentionDays(s.logRetentionDays);

    this.network = new EgressNetwork(this, 'EgressNetwork', {
      maxAzs: s.maxAzs,
      eipAllocationIds: s.eipAllocationIds,
      natProvider: s.natProvider,
      natInstanceType: s.natInstanceType,
      natInstances: s.natInstances,
      logRetention,
    });
    this.tables = new Tables(this, 'Tables', {
      removalPolicy: s.removalPolicy,
      payloadsTableClass: dynamodb.TableClass[s.payloadsTableClass],
    });
    this.delivery = new Delivery(this, 'Delivery', {
      network: this.network,
      tables: this.tables,
      retryScheduleSeconds: s.retryScheduleSeconds,
      retentionDays: s.retentionDays,
      memoryMb: s.deliveryMemoryMb,
      deliveryConcurrency: s.deliveryConcurrency,
      batchSize: s.deliveryBatchSize,
      batchingWindowSeconds: s.deliveryBatchingWindowSeconds,
      maxConcurrency: s.deliveryMaxConcurrency,
      maxReceiveCount: s.maxReceiveCount,
      definitionCacheTtlSeconds: s.definitionCacheTtlSeconds,
      autoDisableAfterHours: s.autoDisableAfterHours,
      circuitBreaker: s.circuitBreaker,
      tlsKeyExchange: s.tlsKeyExchange,
      logRetention,
    });
    this.retrySweeper = new RetrySweeper(this, 'RetrySweeper', {
      tables: this.tables,
      retryMachine: this.delivery.retryMachine.stateMachine,
      healthMachine: this.delivery.healthMachine.stateMachine,
      graceMinutes: s.retrySweepGraceMinutes,
      maxStarts: s.retrySweepMaxStarts,
      logRetention,
    });
    this.api = new Api(this, 'Api', {
      tables: this.tables,
      queue: this.delivery.queue,
      senderIps: this.network.senderIpList,
      retentionDays: s.retentionDays,
      definitionCacheTtlSeconds: s.definitionCacheTtlSeconds,
      throttleRateLimit: s.apiThrottleRateLimit,
      throttleBurstLimit: s.apiThrottleBurstLimit,
      logRetention,
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      httpApi: this.api.httpApi,
      queue: this.delivery.queue,
      deadLetterQueue: this.delivery.deadLetterQueue,
      stateMachine: this.delivery.retryMachine.stateMachine,
      healthStateMachine: this.delivery.healthMachine.stateMachine,
      functions: {
        Ingest: this.api.ingestFunction,
        Api: this.api.apiFunction,
        Delivery: this.delivery.deliveryFunction,
        Attempt: this.delivery.attemptFunction,
        Sweeper: this.retrySweeper.function,
      },
      alarmEmail: s.alarmEmail,
      oldestMessageAlarmSeconds: s.oldestMessageAlarmSeconds,
      failureRateThreshold: s.failureRateAlarmThreshold,
      natHealth: this.network.natHealth,
      sweeperRunsLost: this.retrySweeper.metricRunsLost(),
      topicKey: this.tables.key,
    });

    if (s.console) {
      this.console = new OperatorConsole(this, 'Console', {
        httpApi: this.api.httpApi,
        apiUrl: this.api.url,
        operatorPolicy: this.api.operatorPolicy,
        removalPolicy: s.removalPolicy,
      });
    }

    new CfnOutput(this, 'ApiUrl', {
      description: 'HTTP API base URL (SigV4, service execute-api)',
      value: this.api.url,
    });
    new CfnOutput(this, 'SenderIps', {
      description: 'Public IPs all webhooks of this region are sent from (comma list)',
      value: this.network.senderIpList,
    });
    new CfnOutput(this, 'ProducerPolicyArn', {
      description: 'Managed policy: POST /events',
      value: this.api.producerPolicy.managedPolicyArn,
    });
    new CfnOutput(this, 'OperatorPolicyArn', {
      description: 'Managed policy: every other route',
      value: this.api.operatorPolicy.managedPolicyArn,
    });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.alarmTopic.topicArn });
    new CfnOutput(this, 'DeliveryDlqUrl', { value: this.delivery.deadLetterQueue.queueUrl });
  }
}

/** CloudWatch Logs accepts only certain retention values: take the nearest one at or above. */
function retentionDays(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays)
    .filter((v): v is logs.RetentionDays => typeof v === 'number' && v > 0)
    .sort((a, b) => a - b);
  return allowed.find((v) => v >= days) ?? logs.RetentionDays.INFINITE;
}
