/**
 * What the delivery and attempt Lambdas share: the delivery engine over the three tables, the
 * delivery queue, the retry state machine and the HTTP sender, with its logger and metrics.
 * The renderer is passed in by the delivery Lambda only; the attempt Lambda sends stored
 * requests and carries no template engine.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig, sqsClientConfig } from '../adapters/aws-client-config';
import { tableCursorKey } from '../adapters/cursor-key';
import { DynamoHealthStore } from '../adapters/dynamo-health';
import { DynamoConcurrencyLeases } from '../adapters/dynamo-leases';
import {
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoResendJobStore,
  DynamoWebhookStore,
} from '../adapters/dynamo-stores';
import { createHttpSender } from '../adapters/http-sender';
import { createEnvelopeCipher } from '../adapters/key-wiring';
import {
  createDeliveryObservability,
  createLogger,
  createMetrics,
  type Logger,
  type MetricsPublisher,
} from '../adapters/observability';
import { SfnRetryScheduler } from '../adapters/sfn-scheduler';
import { SqsDeliveryQueue } from '../adapters/sqs-queue';
import { DynamoSubjectKeyStore } from '../adapters/subject-keys';
import { type DeliveryConfig, loadDeliveryConfig } from '../config';
import { ConcurrencyGate } from '../core/concurrency-gate';
import { CachedWebhookStore } from '../core/definition-cache';
import { DeliveryService } from '../core/delivery';
import { HealthDriver } from '../core/health/driver';
import { HealthGate } from '../core/health/gate';
import { DEFAULT_HEALTH_SETTINGS, type HealthSettings } from '../core/health/model';
import { OperationalEvents } from '../core/operational-events';
import type { Renderer } from '../core/render';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../core/retry-schedule';
import { type Env, systemClock } from './support';

export interface DeliveryRuntime {
  readonly config: DeliveryConfig;
  readonly service: DeliveryService;
  /** The platform's operational events publisher (also handed to the delivery engine). */
  readonly operationalEvents: OperationalEvents;
  /** Runs the health driver's steps (attempt Lambda). */
  readonly driver: HealthDriver;
  readonly logger: Logger;
  /** Published by the handlers at the end of each invocation, with the health observer's sums. */
  readonly metrics: MetricsPublisher;
}

/** Builds the delivery engine from `env`; a missing or malformed variable throws naming it. */
export function composeDeliveryRuntime(env: Env, renderer?: Renderer): DeliveryRuntime {
  const config = loadDeliveryConfig(env, DEFAULT_RETRY_SCHEDULE_SECONDS);
  const dynamo = new DynamoDBClient(awsClientConfig(env, 'DYNAMODB'));
  const sqs = new SQSClient(sqsClientConfig(env));
  const sfn = new SFNClient(awsClientConfig(env, 'SFN'));
  const kms = new KMSClient(awsClientConfig(env, 'KMS'));
  const logger = createLogger();
  const observability = createDeliveryObservability(logger, createMetrics());
  const cipher = createEnvelopeCipher(config.keys, kms);
  const subjectKeys = new DynamoSubjectKeyStore(dynamo, config.subjectKeysTable, cipher);
  const webhookTable = new DynamoWebhookStore(dynamo, config.webhooksTable, cipher);
  const webhooks = new CachedWebhookStore(webhookTable, config.definitionCacheTtlMs);
  const queue = new SqsDeliveryQueue(sqs, config.queueUrl);
  const operationalEvents = new OperationalEvents({ webhooks, queue, clock: systemClock });
  const notifications = new DynamoNotificationStore(
    dynamo,
    config.notificationsTable,
    tableCursorKey(dynamo, config.webhooksTable, cipher),
    webhookTable,
  );
  const scheduler = new SfnRetryScheduler(sfn, config.stateMachineArns);
  const healthSettings: HealthSettings = {
    ...DEFAULT_HEALTH_SETTINGS,
    ...config.health.circuitBreaker,
    timeScale: config.retryTimeScale,
    cacheTtlMs: config.health.cacheTtlMs,
    autoDisableAfterHours: config.health.autoDisableAfterHours,
    slowThresholdMs: config.health.slowThresholdMs,
  };
  const healthStore = new DynamoHealthStore(dynamo, config.notificationsTable);
  const healthObserver = observability.health;
  const gate = new HealthGate({
    store: healthStore,
    scheduler,
    clock: systemClock,
    settings: healthSettings,
    observer: healthObserver,
    countFlushMs: config.health.countFlushMs,
    events: operationalEvents,
    webhooks,
  });
  const service = new DeliveryService({
    webhooks,
    notifications,
    payloads: new DynamoPayloadStore(dynamo, config.payloadsTable, subjectKeys),
    resendJobs: new DynamoResendJobStore(dynamo, config.notificationsTable, {
      retentionSeconds: config.retentionDays * 86_400,
    }),
    queue,
    scheduler,
    sender: createHttpSender({
      policy: { allowHttp: config.allowHttp, allowCidrs: config.egressAllowCidrs },
      keyExchange: config.tlsKeyExchange,
    }),
    ...(renderer ? { renderer } : {}),
    // Every request to a receiver passes its webhook's concurrency cap: first attempts and
    // resends here in the delivery Lambda, retries and the health driver's releases in the
    // attempt Lambda, counted together in the shared lease sets.
    gate: new ConcurrencyGate(new DynamoConcurrencyLeases(dynamo, config.notificationsTable), {
      ceiling: config.webhookConcurrencyCeiling,
    }),
    clock: systemClock,
    observer: observability.delivery,
    settings: {
      schedule: config.retrySchedule,
      timeScale: config.retryTimeScale,
      retentionDays: config.retentionDays,
    },
    operationalEvents,
    health: gate,
  });
  const driver = new HealthDriver({
    store: healthStore,
    gate,
    notifications,
    webhooks,
    parked: service,
    scheduler,
    clock: systemClock,
    settings: healthSettings,
    observer: healthObserver,
  });
  return {
    config,
    service,
    operationalEvents,
    driver,
    logger,
    metrics: observability.metrics,
  };
}
