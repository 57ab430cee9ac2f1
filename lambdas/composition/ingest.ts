/**
 * Composition root of the ingest Lambda: the definitions table (read through the definition
 * cache, secrets opened with the data keys), the delivery queue and the event-type catalogue
 * (UpdateItem only). No renderer and no Step Functions client: ingest only
 * matches and enqueues.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { awsClientConfig, sqsClientConfig } from '../adapters/aws-client-config';
import { DynamoEventTypeStore, DynamoWebhookStore } from '../adapters/dynamo-stores';
import { createEnvelopeCipher } from '../adapters/key-wiring';
import { createLogger, createMetrics, type Logger } from '../adapters/observability';
import { SqsDeliveryQueue } from '../adapters/sqs-queue';
import { loadHttpLambdaConfig } from '../handlers/http/env';
import { createIngestHandler } from '../handlers/ingest';
import { type Env, systemClock } from './support';

export interface IngestFunction {
  readonly handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
  readonly logger: Logger;
}

/** Builds the ingest handler from `env`; a missing or malformed variable throws naming it. */
export function composeIngest(env: Env): IngestFunction {
  const config = loadHttpLambdaConfig(env);
  const dynamo = new DynamoDBClient(awsClientConfig(env, 'DYNAMODB'));
  const sqs = new SQSClient(sqsClientConfig(env));
  const kms = new KMSClient(awsClientConfig(env, 'KMS'));
  const logger = createLogger();
  const handler = createIngestHandler({
    stores: {
      webhooks: new DynamoWebhookStore(
        dynamo,
        config.webhooksTable,
        createEnvelopeCipher(config.keys, kms),
      ),
      eventTypes: new DynamoEventTypeStore(dynamo, config.eventTypesTable),
    },
    queue: new SqsDeliveryQueue(sqs, config.queueUrl),
    clock: systemClock,
    config,
    logger,
    metrics: createMetrics(),
  });
  return { handler, logger };
}
