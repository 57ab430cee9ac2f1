/**
 * AWS SDK clients, created once per cold start and passed to the adapters. The same code runs
 * on AWS and in local mode: local mode only sets AWS_ENDPOINT_URL_* (and dummy credentials).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';

export interface AwsClients {
  readonly dynamo: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly sfn: SFNClient;
  readonly kms: KMSClient;
}

interface CommonConfig {
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

function commonConfig(env: NodeJS.ProcessEnv): CommonConfig {
  const common: CommonConfig = {};
  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
  if (region !== undefined) common.region = region;
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if (env !== process.env && accessKeyId !== undefined && secretAccessKey !== undefined) {
    const sessionToken = nonEmpty(env.AWS_SESSION_TOKEN);
    common.credentials = {
      accessKeyId,
      secretAccessKey,
      ...(sessionToken ? { sessionToken } : {}),
    };
  }
  return common;
}

/**
 * Builds the three clients from `env` (default process.env). Endpoints come from
 * AWS_ENDPOINT_URL_<SERVICE> (or AWS_ENDPOINT_URL) and are passed explicitly, so an env object
 * other than process.env works too. Credentials are passed explicitly only when `env` carries
 * them; otherwise the SDK's default chain (the Lambda role) applies.
 */
export function createAwsClients(env: NodeJS.ProcessEnv = process.env): AwsClients {
  const common = commonConfig(env);

  const global = nonEmpty(env.AWS_ENDPOINT_URL);
  const dynamoEndpoint = nonEmpty(env.AWS_ENDPOINT_URL_DYNAMODB) ?? global;
  const sqsEndpoint = nonEmpty(env.AWS_ENDPOINT_URL_SQS) ?? global;
  const sfnEndpoint = nonEmpty(env.AWS_ENDPOINT_URL_SFN) ?? global;
  const kmsEndpoint = nonEmpty(env.AWS_ENDPOINT_URL_KMS) ?? global;

  return {
    dynamo: new DynamoDBClient({
      ...common,
      ...(dynamoEndpoint ? { endpoint: dynamoEndpoint } : {}),
    }),
    // Local SQS stand-ins hand out queue URLs whose host does not resolve: with an explicit
    // endpoint, requests go to the endpoint, not to the queue URL's host.
    sqs: new SQSClient({
      ...common,
      ...(sqsEndpoint ? { endpoint: sqsEndpoint, useQueueUrlAsEndpoint: false } : {}),
    }),
    sfn: new SFNClient({ ...common, ...(sfnEndpoint ? { endpoint: sfnEndpoint } : {}) }),
    kms: new KMSClient({ ...common, ...(kmsEndpoint ? { endpoint: kmsEndpoint } : {}) }),
  };
}
