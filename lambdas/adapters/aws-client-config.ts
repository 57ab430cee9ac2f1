/**
 * Configuration of the AWS SDK clients, read from an environment. The same code runs on AWS
 * and in local mode: local mode only sets AWS_ENDPOINT_URL_* (and dummy credentials). Each
 * Lambda builds only the clients it calls, so this module imports no SDK client.
 */

export type AwsService = 'DYNAMODB' | 'SQS' | 'SFN' | 'KMS';

export interface AwsClientConfig {
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  endpoint?: string;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

/**
 * Region, credentials and endpoint of one service's client. Endpoints come from
 * AWS_ENDPOINT_URL_<SERVICE> (or AWS_ENDPOINT_URL) and are passed explicitly, so an env object
 * other than process.env works too. Credentials are passed explicitly only when `env` carries
 * them and is not process.env; otherwise the SDK's default chain (the Lambda role) applies.
 */
export function awsClientConfig(
  env: Readonly<Record<string, string | undefined>>,
  service: AwsService,
): AwsClientConfig {
  const config: AwsClientConfig = {};
  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
  if (region !== undefined) config.region = region;
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if (env !== process.env && accessKeyId !== undefined && secretAccessKey !== undefined) {
    const sessionToken = nonEmpty(env.AWS_SESSION_TOKEN);
    config.credentials = {
      accessKeyId,
      secretAccessKey,
      ...(sessionToken ? { sessionToken } : {}),
    };
  }
  const endpoint = nonEmpty(env[`AWS_ENDPOINT_URL_${service}`]) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  if (endpoint !== undefined) config.endpoint = endpoint;
  return config;
}

/**
 * The SQS client's configuration. Local SQS stand-ins hand out queue URLs whose host does not
 * resolve: with an explicit endpoint, requests go to the endpoint, not to the queue URL's host.
 */
export function sqsClientConfig(
  env: Readonly<Record<string, string | undefined>>,
): AwsClientConfig & { useQueueUrlAsEndpoint?: boolean } {
  const config = awsClientConfig(env, 'SQS');
  return config.endpoint ? { ...config, useQueueUrlAsEndpoint: false } : config;
}
