/**
 * Composition root of the api and ingest Lambdas: AWS clients, stores, queue and renderer,
 * built once per cold start from validated env.
 */
import { createAwsClients } from '../../adapters/aws-clients';
import { cursorKeyFromEnv } from '../../adapters/cursor-key';
import {
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoResendJobStore,
  DynamoWebhookStore,
} from '../../adapters/dynamo-stores';
import { createEnvelopeCipher } from '../../adapters/key-wiring';
import { createLogger, createMetrics } from '../../adapters/observability';
import { SqsDeliveryQueue } from '../../adapters/sqs-queue';
import { Renderer } from '../../core/render';
import { loadHttpLambdaConfig } from './env';

export function loadHttpDeps(env: NodeJS.ProcessEnv = process.env) {
  const config = loadHttpLambdaConfig(env);
  const clients = createAwsClients(env);
  const cursorKey = cursorKeyFromEnv(env, clients.kms);
  return {
    stores: {
      webhooks: new DynamoWebhookStore(
        clients.dynamo,
        config.webhooksTable,
        createEnvelopeCipher(config.keys, clients.kms),
      ),
      notifications: new DynamoNotificationStore(
        clients.dynamo,
        config.notificationsTable,
        cursorKey,
      ),
      payloads: new DynamoPayloadStore(clients.dynamo, config.payloadsTable),
      resendJobs: new DynamoResendJobStore(clients.dynamo, config.notificationsTable),
    },
    queue: new SqsDeliveryQueue(clients.sqs, config.queueUrl),
    renderer: new Renderer(),
    clock: { now: () => new Date() },
    config,
    logger: createLogger(),
    metrics: createMetrics(),
  };
}
