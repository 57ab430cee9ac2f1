import { type CircuitBreakerSettings, resolveCircuitBreaker } from './core/health/model';
import { DEFAULTS, RANGES } from './defaults';

/**
 * Environment variables, read and validated once at cold start. A missing required value
 * fails the cold start with a message naming it. Names are shared with lib/ (which sets them)
 * and local/ (which sets them for local mode).
 */
export const ENV = {
  WEBHOOKS_TABLE: 'WEBHOOKS_TABLE',
  NOTIFICATIONS_TABLE: 'NOTIFICATIONS_TABLE',
  PAYLOADS_TABLE: 'PAYLOADS_TABLE',
  EVENT_TYPES_TABLE: 'EVENT_TYPES_TABLE',
  /** Per-subject data keys (erasure by subject) and the audit entries of erasures. */
  SUBJECT_KEYS_TABLE: 'SUBJECT_KEYS_TABLE',
  DELIVERY_QUEUE_URL: 'DELIVERY_QUEUE_URL',
  RETRY_STATE_MACHINE_ARN: 'RETRY_STATE_MACHINE_ARN',
  /** The state machine of the webhooks' health drivers. */
  HEALTH_STATE_MACHINE_ARN: 'HEALTH_STATE_MACHINE_ARN',
  /** JSON array of 5 numbers (seconds). */
  RETRY_SCHEDULE_SECONDS: 'RETRY_SCHEDULE_SECONDS',
  /** Multiplies every back-off wait (local mode; 1 on AWS). */
  RETRY_TIME_SCALE: 'RETRY_TIME_SCALE',
  RETENTION_DAYS: 'RETENTION_DAYS',
  /** Comma list of the region's sender IPs (NAT gateway EIPs). */
  SENDER_IPS: 'SENDER_IPS',
  EGRESS_ALLOW_CIDRS: 'EGRESS_ALLOW_CIDRS',
  ALLOW_HTTP: 'ALLOW_HTTP',
  /**
   * How long ingestion and delivery may reuse cached definitions (seconds, default 30; 0 turns
   * the cache off). Saved definitions apply to the next event regardless (revision check).
   */
  DEFINITION_CACHE_TTL_SECONDS: 'DEFINITION_CACHE_TTL_SECONDS',
  /** How many notifications of one SQS batch are delivered at once (default 16). */
  DELIVERY_CONCURRENCY: 'DELIVERY_CONCURRENCY',
  /**
   * Upper bound of every webhook's maxConcurrency: its most requests in flight whatever its
   * definition says, so one destination never holds more than this share of the delivery
   * Lambdas (CDK sets half the queue's maximum Lambda concurrency). Default 100.
   */
  WEBHOOK_CONCURRENCY_CEILING: 'WEBHOOK_CONCURRENCY_CEILING',
  /** How long a container trusts its cached health record of a webhook (seconds, default 5). */
  HEALTH_CACHE_TTL_SECONDS: 'HEALTH_CACHE_TTL_SECONDS',
  /** An open circuit older than this disables its webhook (hours, default 120; scaled by RETRY_TIME_SCALE). */
  AUTO_DISABLE_AFTER_HOURS: 'AUTO_DISABLE_AFTER_HOURS',
  /** An attempt at least this slow counts against health like a failure (ms, default 10000). */
  SLOW_ATTEMPT_THRESHOLD_MS: 'SLOW_ATTEMPT_THRESHOLD_MS',
  /** How often a container adds its successful attempts to the health counters (seconds, default 10). */
  HEALTH_COUNT_FLUSH_SECONDS: 'HEALTH_COUNT_FLUSH_SECONDS',
  /** JSON object overriding circuit breaker settings (see resolveCircuitBreaker); unset: defaults. */
  CIRCUIT_BREAKER: 'CIRCUIT_BREAKER',
  /**
   * Retry sweeper: how long past its nextAttemptAt a retry must be before a sweep restarts it
   * (seconds, default 1800; beyond the Attempt task's own retries: about 4 minutes for a
   * failing invocation, up to about 21 for a throttled one).
   */
  RETRY_SWEEP_GRACE_SECONDS: 'RETRY_SWEEP_GRACE_SECONDS',
  /** Retry sweeper: the most retries one sweep starts (default 300). */
  RETRY_SWEEP_MAX_STARTS: 'RETRY_SWEEP_MAX_STARTS',
  /** Retry sweeper: its schedule's interval (seconds, default 900), the length of a sweep slot. */
  RETRY_SWEEP_INTERVAL_SECONDS: 'RETRY_SWEEP_INTERVAL_SECONDS',
  /**
   * Key exchange the senders offer in TLS: `hybrid` (default: the hybrid post-quantum
   * X25519MLKEM768 first, then the classical groups) or `classical` (no post-quantum share).
   */
  TLS_KEY_EXCHANGE: 'TLS_KEY_EXCHANGE',
  AWS_REGION: 'AWS_REGION',
  /** KMS key (id or ARN) that wraps the data keys of application-level encryption (AWS). */
  SECRETS_KMS_KEY_ID: 'SECRETS_KMS_KEY_ID',
  /** Local mode instead of KMS: the installation key file (mode 0600, under DATA_DIR). */
  SECRETS_KEY_FILE: 'SECRETS_KEY_FILE',
} as const;

/**
 * What the senders offer for the TLS key exchange (TLS_KEY_EXCHANGE, context tlsKeyExchange):
 *  - `hybrid`: what Node's TLS offers by default, the hybrid post-quantum X25519MLKEM768 first
 *    (recorded traffic stays confidential against a future quantum computer), then X25519 and
 *    the NIST curves for receivers without it, on every new TLS session; the resumption of a
 *    session made with the hybrid group offers the classical groups only (its secrets also
 *    descend from that session's, so it keeps the protection; see adapters/tls-sessions.ts):
 *    about 2.5 KB less per resumed connection;
 *  - `hybridEveryHandshake`: the hybrid group on resumptions too (what browsers, Go and rustls
 *    do): a resumed connection stays protected even against someone who also obtains the
 *    receiver's session-ticket key;
 *  - `classical`: X25519 and the NIST curves only: about 2.5 KB less per new connection (a
 *    receiver that supports the hybrid group answers with its 1.1 KB ciphertext), no such
 *    protection. Also a way round a receiver (or its middlebox) that fails on a large hello.
 */
export const TLS_KEY_EXCHANGES = ['hybrid', 'hybridEveryHandshake', 'classical'] as const;
export type TlsKeyExchange = (typeof TLS_KEY_EXCHANGES)[number];

/** CloudWatch namespace of the EMF metrics; the dashboard and alarms use the same names. */
export const METRICS_NAMESPACE = 'Webhooks';
export const METRIC_NAMES = {
  eventsIngested: 'EventsIngested',
  notificationSent: 'NotificationSent',
  notificationFailed: 'NotificationFailed',
  retryScheduled: 'RetryScheduled',
  deliveryLatency: 'DeliveryLatency',
  deliveryDeferred: 'DeliveryDeferred',
  circuitOpened: 'CircuitOpened',
  circuitClosed: 'CircuitClosed',
  webhookAutoDisabled: 'WebhookAutoDisabled',
  /** Gauge: circuits open or half-open, counted by the retry sweeper at each sweep (0 included). */
  openCircuits: 'OpenCircuits',
  /** Per reason (dimension Reason): notifications parked. */
  notificationParked: 'NotificationParked',
  notificationsReleased: 'NotificationsReleased',
  /** Gauge per reason (dimension Reason): what waits parked, counted by the retry sweeper at each sweep. */
  waitingNotifications: 'WaitingNotifications',
  /** Retries the sweeper restarted (their execution had failed for good). */
  retriesSwept: 'RetriesSwept',
} as const;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Typed reads of environment variables; every failure names the variable. */
export function envReader(env: Env) {
  const raw = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  return {
    required(name: string): string {
      const value = raw(name);
      if (value === undefined) throw new ConfigError(`Environment variable ${name} is required`);
      return value;
    },
    optional(name: string, fallback: string): string {
      return raw(name) ?? fallback;
    },
    number(name: string, fallback: number, min: number, max: number): number {
      const value = raw(name);
      if (value === undefined) return fallback;
      const parsed = Number(value);
      if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
        throw new ConfigError(
          `Environment variable ${name} must be a number in [${min}, ${max}], got "${value}"`,
        );
      }
      return parsed;
    },
    bool(name: string, fallback: boolean): boolean {
      const value = raw(name);
      if (value === undefined) return fallback;
      if (/^(1|true|yes)$/i.test(value)) return true;
      if (/^(0|false|no)$/i.test(value)) return false;
      throw new ConfigError(`Environment variable ${name} must be true or false, got "${value}"`);
    },
    oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
      const value = raw(name);
      if (value === undefined) return fallback;
      if (!(allowed as readonly string[]).includes(value))
        throw new ConfigError(
          `Environment variable ${name} must be one of ${allowed.join(', ')}, got "${value}"`,
        );
      return value as T;
    },
    list(name: string, fallback: readonly string[]): string[] {
      const value = raw(name);
      if (value === undefined) return [...fallback];
      return value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    },
    numberArray(name: string, fallback: readonly number[], length: number): number[] {
      const value = raw(name);
      if (value === undefined) return [...fallback];
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        throw new ConfigError(
          `Environment variable ${name} must be a JSON array of ${length} numbers`,
        );
      }
      if (
        !Array.isArray(parsed) ||
        parsed.length !== length ||
        !parsed.every((n) => typeof n === 'number' && Number.isFinite(n) && n > 0)
      ) {
        throw new ConfigError(
          `Environment variable ${name} must be a JSON array of ${length} positive numbers`,
        );
      }
      return parsed as number[];
    },
  };
}

/** DEFINITION_CACHE_TTL_SECONDS in milliseconds (0 turns the cache off). */
export function definitionCacheTtlMs(read: ReturnType<typeof envReader>): number {
  return (
    read.number(
      ENV.DEFINITION_CACHE_TTL_SECONDS,
      DEFAULTS.definitionCacheTtlSeconds,
      RANGES.definitionCacheTtlSeconds.min,
      RANGES.definitionCacheTtlSeconds.max,
    ) * 1000
  );
}

/** Where data keys of application-level encryption come from: KMS on AWS, a key file locally. */
export type KeyConfig =
  | { readonly kind: 'kms'; readonly keyId: string }
  | { readonly kind: 'file'; readonly file: string };

export function loadKeyConfig(env: Env): KeyConfig {
  const read = envReader(env);
  const keyId = read.optional(ENV.SECRETS_KMS_KEY_ID, '');
  if (keyId !== '') return { kind: 'kms', keyId };
  const file = read.optional(ENV.SECRETS_KEY_FILE, '');
  if (file !== '') return { kind: 'file', file };
  throw new ConfigError(
    `Environment variable ${ENV.SECRETS_KMS_KEY_ID} (or ${ENV.SECRETS_KEY_FILE} in local mode) is required`,
  );
}

/** Where every Lambda finds the tables, the delivery queue and its encryption keys. */
export interface StoreConfig {
  readonly region: string;
  readonly keys: KeyConfig;
  readonly webhooksTable: string;
  readonly notificationsTable: string;
  readonly payloadsTable: string;
  readonly eventTypesTable: string;
  readonly subjectKeysTable: string;
  readonly queueUrl: string;
  /** RETENTION_DAYS: every writer sets its items' TTL from it. */
  readonly retentionDays: number;
}

export function loadStoreConfig(env: Env): StoreConfig {
  const read = envReader(env);
  return {
    region: read.required(ENV.AWS_REGION),
    keys: loadKeyConfig(env),
    webhooksTable: read.required(ENV.WEBHOOKS_TABLE),
    notificationsTable: read.required(ENV.NOTIFICATIONS_TABLE),
    payloadsTable: read.required(ENV.PAYLOADS_TABLE),
    eventTypesTable: read.required(ENV.EVENT_TYPES_TABLE),
    subjectKeysTable: read.required(ENV.SUBJECT_KEYS_TABLE),
    queueUrl: read.required(ENV.DELIVERY_QUEUE_URL),
    retentionDays: read.number(
      ENV.RETENTION_DAYS,
      DEFAULTS.retentionDays,
      RANGES.retentionDays.min,
      RANGES.retentionDays.max,
    ),
  };
}

/** What the delivery and attempt Lambdas need. */
export interface DeliveryConfig extends StoreConfig {
  readonly stateMachineArns: { readonly retry: string; readonly health: string };
  readonly retrySchedule: readonly number[];
  readonly retryTimeScale: number;
  readonly allowHttp: boolean;
  readonly egressAllowCidrs: readonly string[];
  readonly tlsKeyExchange: TlsKeyExchange;
  readonly definitionCacheTtlMs: number;
  readonly deliveryConcurrency: number;
  readonly webhookConcurrencyCeiling: number;
  readonly health: {
    readonly cacheTtlMs: number;
    readonly autoDisableAfterHours: number;
    readonly slowThresholdMs: number;
    readonly countFlushMs: number;
    readonly circuitBreaker: CircuitBreakerSettings;
  };
}

export function loadDeliveryConfig(env: Env, defaultSchedule: readonly number[]): DeliveryConfig {
  const read = envReader(env);
  return {
    ...loadStoreConfig(env),
    stateMachineArns: {
      retry: read.required(ENV.RETRY_STATE_MACHINE_ARN),
      health: read.required(ENV.HEALTH_STATE_MACHINE_ARN),
    },
    retrySchedule: read.numberArray(
      ENV.RETRY_SCHEDULE_SECONDS,
      defaultSchedule,
      defaultSchedule.length,
    ),
    retryTimeScale: read.number(ENV.RETRY_TIME_SCALE, 1, 0, 1000),
    allowHttp: read.bool(ENV.ALLOW_HTTP, false),
    egressAllowCidrs: read.list(ENV.EGRESS_ALLOW_CIDRS, []),
    tlsKeyExchange: read.oneOf(ENV.TLS_KEY_EXCHANGE, TLS_KEY_EXCHANGES, DEFAULTS.tlsKeyExchange),
    definitionCacheTtlMs: definitionCacheTtlMs(read),
    deliveryConcurrency: read.number(
      ENV.DELIVERY_CONCURRENCY,
      DEFAULTS.deliveryConcurrency,
      RANGES.deliveryConcurrency.min,
      RANGES.deliveryConcurrency.max,
    ),
    webhookConcurrencyCeiling: read.number(
      ENV.WEBHOOK_CONCURRENCY_CEILING,
      DEFAULTS.webhookConcurrencyCeiling,
      1,
      1000,
    ),
    health: {
      cacheTtlMs:
        read.number(ENV.HEALTH_CACHE_TTL_SECONDS, DEFAULTS.healthCacheTtlSeconds, 0, 300) * 1000,
      autoDisableAfterHours: read.number(
        ENV.AUTO_DISABLE_AFTER_HOURS,
        DEFAULTS.autoDisableAfterHours,
        RANGES.autoDisableAfterHours.min,
        RANGES.autoDisableAfterHours.max,
      ),
      slowThresholdMs: read.number(
        ENV.SLOW_ATTEMPT_THRESHOLD_MS,
        DEFAULTS.slowAttemptThresholdMs,
        1,
        60_000,
      ),
      countFlushMs:
        read.number(ENV.HEALTH_COUNT_FLUSH_SECONDS, DEFAULTS.healthCountFlushSeconds, 0, 3600) *
        1000,
      circuitBreaker: circuitBreakerFromEnv(env),
    },
  };
}

/** What the retry sweeper needs: the Notifications table, the retry machine, its settings. */
export interface SweeperConfig {
  readonly notificationsTable: string;
  readonly retryStateMachineArn: string;
  /**
   * Where dead health drivers are looked for and restarted (the Webhooks table's ids and the
   * health machine); both set by the stack and local mode. Absent: no driver watch.
   */
  readonly driverWatch?: { readonly webhooksTable: string; readonly healthStateMachineArn: string };
  readonly graceMs: number;
  readonly maxStarts: number;
  readonly slotMs: number;
}

export function loadSweeperConfig(env: Env): SweeperConfig {
  const read = envReader(env);
  const maxStarts = read.number(
    ENV.RETRY_SWEEP_MAX_STARTS,
    DEFAULTS.retrySweepMaxStarts,
    1,
    10_000,
  );
  if (!Number.isInteger(maxStarts))
    throw new ConfigError(
      `Environment variable ${ENV.RETRY_SWEEP_MAX_STARTS} must be a whole number, got "${maxStarts}"`,
    );
  const webhooksTable = env[ENV.WEBHOOKS_TABLE]?.trim();
  const healthStateMachineArn = env[ENV.HEALTH_STATE_MACHINE_ARN]?.trim();
  return {
    notificationsTable: read.required(ENV.NOTIFICATIONS_TABLE),
    retryStateMachineArn: read.required(ENV.RETRY_STATE_MACHINE_ARN),
    ...(webhooksTable && healthStateMachineArn
      ? { driverWatch: { webhooksTable, healthStateMachineArn } }
      : {}),
    graceMs:
      read.number(ENV.RETRY_SWEEP_GRACE_SECONDS, DEFAULTS.retrySweepGraceSeconds, 0, 7 * 86_400) *
      1000,
    maxStarts,
    slotMs:
      read.number(
        ENV.RETRY_SWEEP_INTERVAL_SECONDS,
        DEFAULTS.retrySweepIntervalSeconds,
        0.001,
        86_400,
      ) * 1000,
  };
}

function circuitBreakerFromEnv(env: Env): CircuitBreakerSettings {
  const raw = env[ENV.CIRCUIT_BREAKER]?.trim();
  try {
    return resolveCircuitBreaker(raw ? JSON.parse(raw) : undefined);
  } catch (err) {
    throw new ConfigError(`Environment variable ${ENV.CIRCUIT_BREAKER}: ${(err as Error).message}`);
  }
}

/**
 * Share of delivery and attempt Lambda invocations whose logger runs at DEBUG on AWS
 * (POWERTOOLS_LOGGER_SAMPLE_RATE): they log every success; the others log failures only, and
 * the NotificationSent metric counts every success.
 */
export const DELIVERY_LOG_SAMPLE_RATE = 0.01;
