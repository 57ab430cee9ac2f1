import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DELIVERY_LOG_SAMPLE_RATE, ENV, type TlsKeyExchange } from '../../lambdas/config';
import type { CircuitBreakerSettings } from '../../lambdas/core/health/model';
import { MAX_QUEUE_MESSAGE_BYTES } from '../../lambdas/core/ingest';
import { DEFAULT_SETTINGS } from '../config';
import type { EgressNetwork } from './egress-network';
import { HandlerFunction } from './handler-function';
import { HealthMachine, RetryMachine, stateMachineArnForName } from './retry-machine';
import type { Tables } from './tables';

/** Delivery Lambda timeout: a batch of 10 with at most 15 s per HTTP attempt fits well within it. */
export const DELIVERY_TIMEOUT = Duration.seconds(60);
/** The longest one HTTP attempt may take (connect 5 s within a total of 15 s, the sender's bounds). */
export const ATTEMPT_TOTAL_SECONDS = 15;
/** What a batch needs besides its requests: store reads and writes, starting retries, a cold start. */
const BATCH_OVERHEAD_SECONDS = 15;

/**
 * The longest a delivery batch can take: its records run `deliveryConcurrency` at a time, each
 * at most one attempt of ATTEMPT_TOTAL_SECONDS plus store work. It must fit in the Lambda
 * timeout, or SQS would hand out records of a batch still running.
 */
export function worstBatchSeconds(batchSize: number, deliveryConcurrency: number): number {
  return (
    Math.ceil(batchSize / deliveryConcurrency) * ATTEMPT_TOTAL_SECONDS + BATCH_OVERHEAD_SECONDS
  );
}
/** Attempt Lambda timeout: one attempt (connect 5 s, total 15 s) plus store writes. */
export const ATTEMPT_TIMEOUT = Duration.seconds(30);

export interface DeliveryProps {
  readonly network: EgressNetwork;
  readonly tables: Tables;
  /** Nominal back-off waits (seconds), for the state machine and RETRY_SCHEDULE_SECONDS. Default DEFAULT_RETRY_SCHEDULE_SECONDS. */
  readonly retryScheduleSeconds?: readonly number[];
  /** RETENTION_DAYS for the TTL the writers set. Default 90. */
  readonly retentionDays?: number;
  /** Delivery Lambda memory (MB). Default 512. */
  readonly memoryMb?: number;
  /** DELIVERY_CONCURRENCY: notifications of one batch sent at once. Default 16. */
  readonly deliveryConcurrency?: number;
  /** SQS batch size. Default 10. */
  readonly batchSize?: number;
  /** SQS maximum batching window (seconds). Default 1. */
  readonly batchingWindowSeconds?: number;
  /** Maximum concurrent Lambdas the queue drives (2..1000). Default 50. */
  readonly maxConcurrency?: number;
  /** Receives before a message goes to the DLQ. Default 5. */
  readonly maxReceiveCount?: number;
  /** DEFINITION_CACHE_TTL_SECONDS. Default 30. */
  readonly definitionCacheTtlSeconds?: number;
  /** A circuit open this long disables its webhook (AUTO_DISABLE_AFTER_HOURS). Default 120. */
  readonly autoDisableAfterHours?: number;
  /** Circuit breaker settings (CIRCUIT_BREAKER), resolved. Default: the defaults. */
  readonly circuitBreaker?: CircuitBreakerSettings;
  /** Key exchange the senders offer in TLS (TLS_KEY_EXCHANGES). Default `hybrid` (post-quantum first). */
  readonly tlsKeyExchange?: TlsKeyExchange;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The delivery path: SQS queue (+DLQ) -> delivery Lambda (first attempt, resends) and, on
 * failure, the retry state machine driving the attempt Lambda. Both Lambdas run in the
 * private subnets, so every request leaves from the NAT gateways' Elastic IPs.
 */
export class Delivery extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly deliveryFunction: HandlerFunction;
  readonly attemptFunction: HandlerFunction;
  readonly retryMachine: RetryMachine;
  readonly healthMachine: HealthMachine;
  readonly eventSource: sources.SqsEventSource;

  constructor(scope: Construct, id: string, props: DeliveryProps) {
    super(scope, id);
    const { network, tables } = props;
    const schedule = props.retryScheduleSeconds ?? DEFAULT_SETTINGS.retryScheduleSeconds;
    const batchingWindow = Duration.seconds(
      props.batchingWindowSeconds ?? DEFAULT_SETTINGS.deliveryBatchingWindowSeconds,
    );
    const batchSize = props.batchSize ?? DEFAULT_SETTINGS.deliveryBatchSize;
    const deliveryConcurrency = props.deliveryConcurrency ?? DEFAULT_SETTINGS.deliveryConcurrency;
    const maxConcurrency = props.maxConcurrency ?? DEFAULT_SETTINGS.deliveryMaxConcurrency;
    if (worstBatchSeconds(batchSize, deliveryConcurrency) > DELIVERY_TIMEOUT.toSeconds()) {
      throw new Error(
        `A batch of ${batchSize} sent ${deliveryConcurrency} at a time can take ${worstBatchSeconds(batchSize, deliveryConcurrency)} s, ` +
          `more than the delivery Lambda's ${DELIVERY_TIMEOUT.toSeconds()} s: lower deliveryBatchSize or raise deliveryConcurrency`,
      );
    }

    this.deadLetterQueue = new sqs.Queue(this, 'DeliveryDlq', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      maxMessageSizeBytes: MAX_QUEUE_MESSAGE_BYTES,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This is the dead-letter queue of the delivery queue: the last stop; its depth is alarmed.',
    });
    this.queue = new sqs.Queue(this, 'DeliveryQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // An event may be 256 KiB; its delivery job adds an envelope, so the queue takes 1 MiB.
      maxMessageSizeBytes: MAX_QUEUE_MESSAGE_BYTES,
      // AWS: at least 6 x the function timeout plus the batching window, so a message whose
      // batch is being retried by Lambda is not handed out again meanwhile.
      visibilityTimeout: Duration.seconds(
        DELIVERY_TIMEOUT.toSeconds() * 6 + batchingWindow.toSeconds() + 30,
      ),
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: props.maxReceiveCount ?? DEFAULT_SETTINGS.maxReceiveCount,
      },
    });

    // Named, so the attempt Lambda's config and policy can hold their ARNs without a circular
    // reference (the machines invoke the attempt Lambda, which starts their executions).
    const machineNames = {
      retry: `${Stack.of(this).stackName}-retries`,
      health: `${Stack.of(this).stackName}-health`,
    };
    // Not cut to fit: two machines would share a name (the stage's length keeps them short).
    for (const name of Object.values(machineNames))
      if (name.length > 80)
        throw new Error(`state machine name ${name} is over 80 characters: use a shorter stage`);
    const machineArns = {
      retry: stateMachineArnForName(this, machineNames.retry),
      health: stateMachineArnForName(this, machineNames.health),
    };
    const vpc = {
      vpc: network.vpc,
      subnets: network.privateSubnets,
      securityGroups: [network.senderSecurityGroup],
    };
    const senderEnv = {
      // Both Lambdas load the same delivery config; both send and start executions.
      ...tables.storeEnvironment(this.queue),
      [ENV.RETRY_STATE_MACHINE_ARN]: machineArns.retry,
      [ENV.HEALTH_STATE_MACHINE_ARN]: machineArns.health,
      [ENV.RETRY_SCHEDULE_SECONDS]: JSON.stringify(schedule),
      [ENV.RETENTION_DAYS]: String(props.retentionDays ?? DEFAULT_SETTINGS.retentionDays),
      [ENV.DEFINITION_CACHE_TTL_SECONDS]: String(
        props.definitionCacheTtlSeconds ?? DEFAULT_SETTINGS.definitionCacheTtlSeconds,
      ),
      [ENV.AUTO_DISABLE_AFTER_HOURS]: String(
        props.autoDisableAfterHours ?? DEFAULT_SETTINGS.autoDisableAfterHours,
      ),
      [ENV.CIRCUIT_BREAKER]: JSON.stringify(
        props.circuitBreaker ?? DEFAULT_SETTINGS.circuitBreaker,
      ),
      [ENV.SENDER_IPS]: network.senderIpList,
      // On AWS the guard refuses plain HTTP and every non-public address, with no exceptions.
      [ENV.ALLOW_HTTP]: 'false',
      [ENV.EGRESS_ALLOW_CIDRS]: '',
      [ENV.TLS_KEY_EXCHANGE]: props.tlsKeyExchange ?? DEFAULT_SETTINGS.tlsKeyExchange,
      // Errors always log; successes (DEBUG) only in this share of invocations, metrics count all.
      POWERTOOLS_LOGGER_SAMPLE_RATE: String(DELIVERY_LOG_SAMPLE_RATE),
      // One webhook never holds more than half of the delivery Lambdas, whatever its cap says.
      // Both Lambdas count a webhook's requests in the same lease sets, so both cap them alike.
      [ENV.WEBHOOK_CONCURRENCY_CEILING]: String(Math.max(1, Math.floor(maxConcurrency / 2))),
    };

    this.attemptFunction = new HandlerFunction(this, 'AttemptFunction', {
      handler: 'attempt',
      description:
        'Webhooks: one automatic retry of a notification or one health driver step (invoked by the state machines)',
      memorySize: 256,
      timeout: ATTEMPT_TIMEOUT,
      environment: senderEnv,
      logRetention: props.logRetention,
      vpc,
    });
    tables.grantWebhooksRead(this.attemptFunction);
    tables.grantEnvelope(this.attemptFunction, 'open');
    tables.grantNotificationsReadWrite(this.attemptFunction);
    tables.grantPayloadsGet(this.attemptFunction);
    tables.grantSubjectKeys(this.attemptFunction, 'read');
    // The health driver's auto-disable turns the definition off (no secret is rewritten).
    tables.grantWebhooksDisable(this.attemptFunction);
    // Operational events (a circuit opened or closed, a webhook auto-disabled, a notification
    // failed for good) are queued as delivery jobs, from retries and driver steps too.
    this.queue.grantSendMessages(this.attemptFunction);
    // The next retry's execution, a released notification's retry, a health driver's hand-over.
    this.attemptFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [machineArns.retry, machineArns.health],
      }),
    );

    this.retryMachine = new RetryMachine(this, 'RetryMachine', {
      attemptFunction: this.attemptFunction,
      scheduleSeconds: schedule,
      logRetention: props.logRetention,
      stateMachineName: machineNames.retry,
    });
    this.healthMachine = new HealthMachine(this, 'HealthMachine', {
      attemptFunction: this.attemptFunction,
      logRetention: props.logRetention,
      stateMachineName: machineNames.health,
    });

    this.deliveryFunction = new HandlerFunction(this, 'DeliveryFunction', {
      handler: 'delivery',
      description: 'Webhooks: renders, stores and sends a notification (first attempt and resends)',
      memorySize: props.memoryMb ?? DEFAULT_SETTINGS.deliveryMemoryMb,
      timeout: DELIVERY_TIMEOUT,
      environment: {
        ...senderEnv,
        [ENV.RETRY_STATE_MACHINE_ARN]: this.retryMachine.stateMachine.stateMachineArn,
        [ENV.HEALTH_STATE_MACHINE_ARN]: this.healthMachine.stateMachine.stateMachineArn,
        [ENV.DELIVERY_CONCURRENCY]: String(deliveryConcurrency),
      },
      logRetention: props.logRetention,
      vpc,
    });
    tables.grantWebhooksRead(this.deliveryFunction);
    tables.grantEnvelope(this.deliveryFunction, 'seal');
    tables.grantSubjectKeys(this.deliveryFunction, 'create');
    tables.grantNotificationsReadWrite(this.deliveryFunction);
    tables.grantCursorKey(this.deliveryFunction);
    tables.grantPayloadsPutGet(this.deliveryFunction);
    // Expands a resendQuery job into per-notification resend messages.
    this.queue.grantSendMessages(this.deliveryFunction);
    this.retryMachine.stateMachine.grantStartExecution(this.deliveryFunction);
    this.healthMachine.stateMachine.grantStartExecution(this.deliveryFunction);

    this.eventSource = new sources.SqsEventSource(this.queue, {
      batchSize,
      maxBatchingWindow: batchingWindow,
      maxConcurrency,
      reportBatchItemFailures: true,
    });
    this.deliveryFunction.addEventSource(this.eventSource);
  }

  /** The functions of this construct, for dashboards and alarms. */
  get functions(): lambda.IFunction[] {
    return [this.deliveryFunction, this.attemptFunction];
  }
}
