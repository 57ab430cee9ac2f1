/**
 * Environment of the api and ingest Lambdas, read and validated once at cold start (names in
 * lambdas/config.ts). A missing or malformed value fails the cold start naming the variable.
 */
import { ENV, envReader } from '../../config';

export interface HttpLambdaConfig {
  readonly region: string;
  readonly webhooksTable: string;
  readonly notificationsTable: string;
  readonly payloadsTable: string;
  readonly queueUrl: string;
  /** The region's sender IPs (NAT gateway EIPs), for GET /sender-ips. */
  readonly senderIps: readonly string[];
  /** How long ingest caches definitions: DEFINITION_CACHE_TTL_SECONDS, default 30 s, 0 disables. */
  readonly definitionCacheTtlMs: number;
}

export const DEFAULT_DEFINITION_CACHE_TTL_SECONDS = 30;

export function loadHttpLambdaConfig(env: Readonly<Record<string, string | undefined>>): HttpLambdaConfig {
  const read = envReader(env);
  return {
    region: read.required(ENV.AWS_REGION),
    webhooksTable: read.required(ENV.WEBHOOKS_TABLE),
    notificationsTable: read.required(ENV.NOTIFICATIONS_TABLE),
    payloadsTable: read.required(ENV.PAYLOADS_TABLE),
    queueUrl: read.required(ENV.DELIVERY_QUEUE_URL),
    senderIps: read.list(ENV.SENDER_IPS, []),
    definitionCacheTtlMs:
      read.number(ENV.DEFINITION_CACHE_TTL_SECONDS, DEFAULT_DEFINITION_CACHE_TTL_SECONDS, 0, 3600) * 1000,
  };
}
