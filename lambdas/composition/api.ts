/**
 * Composition root of the api Lambda: the three tables, the history cursor key, the delivery
 * queue (resends) and the renderer (save-time checks and previews). No Step Functions client.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { awsClientConfig, sqsClientConfig } from '../adapters/aws-client-config';
import { tableCursorKey } from '../adapters/cursor-key';
import { DynamoHealthStore } from '../adapters/dynamo-health';
import {
  DynamoEventTypeStore,
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoResendJobStore,
  DynamoWebhookStore,
} from '../adapters/dynamo-stores';
import { createEnvelopeCipher } from '../adapters/key-wiring';
import { createLogger, type Logger } from '../adapters/observability';
import { SqsDeliveryQueue } from '../adapters/sqs-queue';
import { DynamoSubjectKeyStore } from '../adapters/subject-keys';
import { Renderer } from '../core/render';
import { createApiHandler } from '../handlers/api';
import { loadHttpLambdaConfig } from '../handlers/http/env';
import { type Env, systemClock } from './support';

export interface ApiFunction {
  readonly handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
  readonly logger: Logger;
}

/** Builds the api handler from `env`; a missing or malformed variable throws naming it. */
export function composeApi(env: Env): ApiFunction {
  const config = loadHttpLambdaConfig(env);
  const dynamo = new DynamoDBClient(awsClientConfig(env, 'DYNAMODB'));
  const sqs = new SQSClient(sqsClientConfig(env));
  const kms = new KMSClient(awsClientConfig(env, 'KMS'));
  const logger = createLogger();
  const cipher = createEnvelopeCipher(config.keys, kms);
  const subjectKeys = new DynamoSubjectKeyStore(dynamo, config.subjectKeysTable, cipher);
  const retention = { retentionSeconds: config.retentionDays * 86_400 };
  const webhooks = new DynamoWebhookStore(dynamo, config.webhooksTable, cipher, retention);
  const handler = createApiHandler({
    stores: {
      webhooks,
      notifications: new DynamoNotificationStore(
        dynamo,
        config.notificationsTable,
        tableCursorKey(dynamo, config.webhooksTable, cipher),
        webhooks,
      ),
      payloads: new DynamoPayloadStore(dynamo, config.payloadsTable, subjectKeys),
      resendJobs: new DynamoResendJobStore(dynamo, config.notificationsTable, retention),
      eventTypes: new DynamoEventTypeStore(dynamo, config.eventTypesTable),
      subjectKeys,
      health: new DynamoHealthStore(dynamo, config.notificationsTable),
    },
    queue: new SqsDeliveryQueue(sqs, config.queueUrl),
    renderer: new Renderer(),
    clock: systemClock,
    config,
    logger,
  });
  return { handler, logger };
}
