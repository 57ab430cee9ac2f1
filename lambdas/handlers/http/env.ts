/**
 * Environment of the api and ingest Lambdas, read and validated once at cold start (names in
 * lambdas/config.ts). A missing or malformed value fails the cold start naming the variable.
 */
import {
  definitionCacheTtlMs,
  ENV,
  envReader,
  loadStoreConfig,
  type StoreConfig,
} from '../../config';

export interface HttpLambdaConfig extends StoreConfig {
  /** The region's sender IPs (NAT gateway EIPs), for GET /sender-ips. */
  readonly senderIps: readonly string[];
  /** How long ingest caches definitions: DEFINITION_CACHE_TTL_SECONDS, default 30 s, 0 disables. */
  readonly definitionCacheTtlMs: number;
}

export function loadHttpLambdaConfig(
  env: Readonly<Record<string, string | undefined>>,
): HttpLambdaConfig {
  const read = envReader(env);
  return {
    ...loadStoreConfig(env),
    senderIps: read.list(ENV.SENDER_IPS, []),
    definitionCacheTtlMs: definitionCacheTtlMs(read),
  };
}
