/**
 * Defaults of the settings both sides know: the CDK app sets them as environment variables
 * (lib/config.ts, the constructs), local mode sets some of them, and the Lambdas fall back to
 * them when a variable is unset (lambdas/config.ts). Each default lives here only.
 */
export const DEFAULTS = {
  /** RETENTION_DAYS: how long notifications, rendered requests and resend jobs are kept (TTL). */
  retentionDays: 90,
  /** DEFINITION_CACHE_TTL_SECONDS: how long the Lambdas reuse cached definitions. */
  definitionCacheTtlSeconds: 30,
  /** DELIVERY_CONCURRENCY: notifications of one SQS batch delivered at once. */
  deliveryConcurrency: 16,
  /** WEBHOOK_CONCURRENCY_CEILING: the most requests in flight to one webhook. */
  webhookConcurrencyCeiling: 100,
  /** AUTO_DISABLE_AFTER_HOURS: an open circuit this old disables its webhook. */
  autoDisableAfterHours: 120,
  /** HEALTH_CACHE_TTL_SECONDS: how long a container trusts its cached health record. */
  healthCacheTtlSeconds: 5,
  /** SLOW_ATTEMPT_THRESHOLD_MS: an attempt this slow counts against health like a failure. */
  slowAttemptThresholdMs: 10_000,
  /** HEALTH_COUNT_FLUSH_SECONDS: how often successes are added to the health counters. */
  healthCountFlushSeconds: 10,
  /**
   * CIRCUIT_BREAKER: when a webhook's circuit opens (failures in a row, or a failure ratio over a
   * window with enough attempts) and how long it waits before each probe (doubling to the max).
   */
  circuitBreaker: {
    openAfterConsecutiveFailures: 5,
    windowSeconds: 60,
    windowMinAttempts: 20,
    windowFailureRatio: 0.5,
    cooldownSeconds: 30,
    maxCooldownSeconds: 30 * 60,
  },
  /**
   * RETRY_SWEEP_GRACE_SECONDS: a retry due longer ago than this, with no execution left to
   * make it, is restarted by the retry sweeper. Far beyond the Attempt task's own retries.
   */
  retrySweepGraceSeconds: 30 * 60,
  /** RETRY_SWEEP_MAX_STARTS: the most retries one sweep starts. */
  retrySweepMaxStarts: 300,
  /** RETRY_SWEEP_INTERVAL_SECONDS: how often the retry sweeper runs. */
  retrySweepIntervalSeconds: 15 * 60,
  /** TLS_KEY_EXCHANGE: the hybrid post-quantum key exchange first (see TLS_KEY_EXCHANGES). */
  tlsKeyExchange: 'hybrid',
  /** Receives of a delivery job before it moves to the dead-letter queue (AWS and local mode). */
  maxReceiveCount: 5,
} as const;

/**
 * Ranges the Lambdas accept for the settings the CDK app passes them (lambdas/config.ts reads
 * with them; lib/config.ts refuses a value outside them at synth, so a deploy cannot make every
 * cold start fail). Each range lives here only.
 */
export const RANGES = {
  /** RETENTION_DAYS: one day to ten years. */
  retentionDays: { min: 1, max: 3650 },
  /** DEFINITION_CACHE_TTL_SECONDS: 0 turns the cache off (local mode, tests); at most an hour. */
  definitionCacheTtlSeconds: { min: 0, max: 3600 },
  /** DELIVERY_CONCURRENCY: notifications of one batch delivered at once. */
  deliveryConcurrency: { min: 1, max: 256 },
  /** AUTO_DISABLE_AFTER_HOURS: above 0 (tests use fractions of an hour), at most a year. */
  autoDisableAfterHours: { min: 0.0001, max: 8760 },
} as const;
