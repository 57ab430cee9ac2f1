/**
 * All the AWS SDK clients at once, for local mode and tests (stand-ins, pollers, health
 * probes). The Lambdas build only the clients they call (lambdas/composition/).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig, sqsClientConfig } from './aws-client-config';

export interface AwsClients {
  readonly dynamo: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly sfn: SFNClient;
  readonly kms: KMSClient;
}

/** Builds the clients from `env` (default process.env); see awsClientConfig. */
export function createAwsClients(env: NodeJS.ProcessEnv = process.env): AwsClients {
  return {
    dynamo: new DynamoDBClient(awsClientConfig(env, 'DYNAMODB')),
    sqs: new SQSClient(sqsClientConfig(env)),
    sfn: new SFNClient(awsClientConfig(env, 'SFN')),
    kms: new KMSClient(awsClientConfig(env, 'KMS')),
  };
}
