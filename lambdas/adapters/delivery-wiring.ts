/**
 * Composition root of the delivery and attempt Lambdas: AWS clients, stores, sender and the
 * delivery engine, built once per cold start from validated configuration.
 */
import { type DeliveryConfig, loadDeliveryConfig } from '../config';
import { CachedWebhookStore } from '../core/definition-cache';
import { DeliveryService } from '../core/delivery';
import { OperationalEvents } from '../core/operational-events';
import { Renderer } from '../core/render';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../core/retry-schedule';
import { createAwsClients } from './aws-clients';
import { cursorKeyFromEnv } from './cursor-key';
import {
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoResendJobStore,
  DynamoWebhookStore,
} from './dynamo-stores';
import { createHttpSender } from './http-sender';
import { createEnvelopeCipher } from './key-wiring';
import { createDeliveryObserver, createLogger, createMetrics } from './observability';
import { SfnRetryScheduler } from './sfn-scheduler';
import { SqsDeliveryQueue } from './sqs-queue';

export interface DeliveryRuntime {
  readonly config: DeliveryConfig;
  readonly service: DeliveryService;
  /** The platform's operational events publisher (also handed to the delivery engine). */
  readonly operationalEvents: OperationalEvents;
  readonly logger: ReturnType<typeof createLogger>;
  readonly metrics: ReturnType<typeof createMetrics>;
}

export function createDeliveryRuntime(env: NodeJS.ProcessEnv = process.env): DeliveryRuntime {
  const config = loadDeliveryConfig(env, DEFAULT_RETRY_SCHEDULE_SECONDS);
  const clients = createAwsClients(env);
  const logger = createLogger();
  const metrics = createMetrics();
  const clock = { now: () => new Date() };
  const webhooks = new CachedWebhookStore(
    new DynamoWebhookStore(
      clients.dynamo,
      config.webhooksTable,
      createEnvelopeCipher(config.keys, clients.kms),
    ),
    config.definitionCacheTtlMs,
  );
  const queue = new SqsDeliveryQueue(clients.sqs, config.queueUrl);
  const operationalEvents = new OperationalEvents({ webhooks, queue, clock });
  const service = new DeliveryService({
    webhooks,
    notifications: new DynamoNotificationStore(
      clients.dynamo,
      config.notificationsTable,
      cursorKeyFromEnv(env, clients.kms),
    ),
    payloads: new DynamoPayloadStore(clients.dynamo, config.payloadsTable),
    resendJobs: new DynamoResendJobStore(clients.dynamo, config.notificationsTable),
    queue,
    scheduler: new SfnRetryScheduler(clients.sfn, config.stateMachineArn),
    sender: createHttpSender({
      policy: { allowHttp: config.allowHttp, allowCidrs: config.egressAllowCidrs },
    }),
    renderer: new Renderer(),
    clock,
    observer: createDeliveryObserver(logger, metrics),
    settings: {
      schedule: config.retrySchedule,
      timeScale: config.retryTimeScale,
      retentionDays: config.retentionDays,
    },
    operationalEvents,
  });
  return { config, service, operationalEvents, logger, metrics };
}

/** Builds the runtime on first use, so importing a handler has no side effects. */
export function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= build();
    return value;
  };
}
