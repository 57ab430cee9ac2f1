import { RemovalPolicy } from 'aws-cdk-lib';
import { TLS_KEY_EXCHANGES, type TlsKeyExchange } from '../lambdas/config';
import { type CircuitBreakerSettings, resolveCircuitBreaker } from '../lambdas/core/health/model';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, RETRY_COUNT } from '../lambdas/core/retry-schedule';
import { DEFAULTS, RANGES } from '../lambdas/defaults';

/**
 * Typed settings of one region's stack. Every field is optional; the defaults below are
 * what `npx cdk deploy` uses when no context key overrides them (see README "Configuration reference").
 */
export interface WebhooksSettings {
  /** Nominal waits before retries 1..5, in seconds. Default DEFAULT_RETRY_SCHEDULE_SECONDS (60 s x 5^n). */
  readonly retryScheduleSeconds?: readonly number[];
  /** Days a notification and its rendered request are kept (DynamoDB TTL). Default 90. */
  readonly retentionDays?: number;
  /**
   * Allocation ids of existing Elastic IPs, one per AZ, so the sender IPs survive a stack
   * replacement. Default: the stack creates the EIPs.
   */
  readonly eipAllocationIds?: readonly string[];
  /**
   * What carries the sender IPs: `gateway` (a managed NAT gateway per AZ) or `instance` (one
   * small Graviton NAT instance per AZ, recovered automatically; far cheaper, less throughput).
   * Default `gateway`.
   */
  readonly natProvider?: NatProviderName;
  /** Instance type of the NAT instances (natProvider `instance`), Graviton. Default t4g.nano. */
  readonly natInstanceType?: string;
  /**
   * With natProvider `instance`: `perAz` (one NAT instance and Elastic IP per AZ) or `single`
   * (one for all AZs, replaced in any AZ by its Auto Scaling group). Default `perAz`.
   */
  readonly natInstances?: NatInstancesLayout;
  /**
   * Table class of the Payloads table (the rendered requests: written once, read on retries,
   * resends and detail views). Default `STANDARD_INFREQUENT_ACCESS`: storage at 40 % of the
   * Standard price for requests at 125 %, cheaper from about 45 days of retention on.
   */
  readonly payloadsTableClass?: TableClassName;
  /**
   * Key exchange the senders offer in TLS: `hybrid` (the hybrid post-quantum X25519MLKEM768
   * first, then classical groups, on every new session; resumptions of a post-quantum session
   * offer the classical groups only), `hybridEveryHandshake` (the hybrid group on resumptions
   * too: about $0.22 more per million notifications with NAT gateways) or `classical` (X25519
   * and the NIST curves only, no protection of recorded traffic against a future quantum
   * computer). Default `hybrid`. See TLS_KEY_EXCHANGES.
   */
  readonly tlsKeyExchange?: TlsKeyExchange;
  /**
   * Number of AZs (and NAT gateways). Default 2. More than 2 needs a stack whose account is
   * pinned, so CDK can look the AZs up; the app pins only the region, and its stacks refuse more.
   */
  readonly maxAzs?: number;
  /** E-mail address subscribed to the alarm topic. Default: none (subscribe later). */
  readonly alarmEmail?: string;
  /** Removal policy of the tables and their KMS key. Default RETAIN. */
  readonly removalPolicy?: RemovalPolicy;
  /** Delivery Lambda memory in MB (128..10240). Default 512. */
  readonly deliveryMemoryMb?: number;
  /** Notifications of one SQS batch delivered at once (env DELIVERY_CONCURRENCY). Default 16. */
  readonly deliveryConcurrency?: number;
  /** SQS batch size of the delivery Lambda. Default 10. */
  readonly deliveryBatchSize?: number;
  /** SQS maximum batching window in seconds. Default 1. */
  readonly deliveryBatchingWindowSeconds?: number;
  /** Maximum concurrent delivery Lambdas for the queue (2..1000). Default 50. */
  readonly deliveryMaxConcurrency?: number;
  /** Receives of a delivery message before it goes to the DLQ (1..1000). Default 5. */
  readonly maxReceiveCount?: number;
  /** How long ingestion and delivery cache definitions (seconds). Default 30. */
  readonly definitionCacheTtlSeconds?: number;
  /** Hours a webhook's circuit may stay open before the webhook is disabled. Default 120 (5 days). */
  readonly autoDisableAfterHours?: number;
  /** When circuits open and how long they wait before probing; unset fields keep their defaults. */
  readonly circuitBreaker?: Partial<CircuitBreakerSettings>;
  /**
   * Minutes past its nextAttemptAt before the retry sweeper restarts a retry whose execution
   * failed for good (at least 25: beyond the Attempt task's own retries). Default 30.
   */
  readonly retrySweepGraceMinutes?: number;
  /** The most retries one sweep (every 15 minutes) restarts (1..10000). Default 300. */
  readonly retrySweepMaxStarts?: number;
  /** API stage steady-state request rate limit (requests/s). Default 10000. */
  readonly apiThrottleRateLimit?: number;
  /** API stage burst limit (requests). Default 5000. */
  readonly apiThrottleBurstLimit?: number;
  /** Retention of Lambda, API access, state machine and flow logs, in days. Default 30. */
  readonly logRetentionDays?: number;
  /** Alarm when the oldest delivery message is older than this (seconds). Default 300. */
  readonly oldestMessageAlarmSeconds?: number;
  /** Alarm when NotificationFailed / (Sent + Failed) over 5 minutes exceeds this. Default 0.05. */
  readonly failureRateAlarmThreshold?: number;
  /** Ship the operator console (CloudFront, Cognito). Default true; `-c console=false` leaves it out. */
  readonly console?: boolean;
}

export const NAT_PROVIDERS = ['gateway', 'instance'] as const;
export const TABLE_CLASSES = ['STANDARD', 'STANDARD_INFREQUENT_ACCESS'] as const;
export type TableClassName = (typeof TABLE_CLASSES)[number];
export type NatProviderName = (typeof NAT_PROVIDERS)[number];
export const NAT_INSTANCE_LAYOUTS = ['perAz', 'single'] as const;
export type NatInstancesLayout = (typeof NAT_INSTANCE_LAYOUTS)[number];

/** The settings with every default applied. */
export type ResolvedSettings = Required<
  Omit<WebhooksSettings, 'eipAllocationIds' | 'alarmEmail' | 'circuitBreaker'>
> &
  Pick<WebhooksSettings, 'eipAllocationIds' | 'alarmEmail'> & {
    circuitBreaker: CircuitBreakerSettings;
  };

export const DEFAULT_SETTINGS: ResolvedSettings = {
  retryScheduleSeconds: DEFAULT_RETRY_SCHEDULE_SECONDS,
  retentionDays: DEFAULTS.retentionDays,
  natProvider: 'gateway',
  natInstanceType: 't4g.nano',
  natInstances: 'perAz',
  payloadsTableClass: 'STANDARD_INFREQUENT_ACCESS',
  tlsKeyExchange: DEFAULTS.tlsKeyExchange,
  maxAzs: 2,
  removalPolicy: RemovalPolicy.RETAIN,
  deliveryMemoryMb: 512,
  deliveryConcurrency: DEFAULTS.deliveryConcurrency,
  deliveryBatchSize: 10,
  deliveryBatchingWindowSeconds: 1,
  deliveryMaxConcurrency: 50,
  maxReceiveCount: DEFAULTS.maxReceiveCount,
  definitionCacheTtlSeconds: DEFAULTS.definitionCacheTtlSeconds,
  autoDisableAfterHours: DEFAULTS.autoDisableAfterHours,
  circuitBreaker: DEFAULTS.circuitBreaker,
  retrySweepGraceMinutes: DEFAULTS.retrySweepGraceSeconds / 60,
  retrySweepMaxStarts: DEFAULTS.retrySweepMaxStarts,
  apiThrottleRateLimit: 10_000,
  apiThrottleBurstLimit: 5_000,
  logRetentionDays: 30,
  oldestMessageAlarmSeconds: 300,
  failureRateAlarmThreshold: 0.05,
  console: true,
};

/** Applies defaults and rejects values CloudFormation would only reject at deploy time. */
export function resolveSettings(settings: WebhooksSettings = {}): ResolvedSettings {
  const defined = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
  const s: ResolvedSettings = { ...DEFAULT_SETTINGS, ...defined };
  validateRetrySchedule(s.retryScheduleSeconds);
  positiveInteger('retentionDays', s.retentionDays);
  withinRange('retentionDays', s.retentionDays, RANGES.retentionDays);
  positiveInteger('maxAzs', s.maxAzs);
  if (s.maxAzs < 2) throw new Error(`maxAzs must be at least 2, got ${s.maxAzs}`);
  if (!TLS_KEY_EXCHANGES.includes(s.tlsKeyExchange))
    throw new Error(
      `tlsKeyExchange: "${s.tlsKeyExchange}" must be one of ${TLS_KEY_EXCHANGES.join(', ')}`,
    );
  if (!NAT_PROVIDERS.includes(s.natProvider))
    throw new Error(`natProvider: "${s.natProvider}" must be ${NAT_PROVIDERS.join(' or ')}`);
  // The NAT instances run Amazon Linux 2023 for arm64: a Graviton type (a "g" in its family).
  if (!/^[a-z]+\d+g[a-z]*\.[a-z0-9]+$/.test(s.natInstanceType))
    throw new Error(
      `natInstanceType: "${s.natInstanceType}" is not a Graviton instance type (e.g. t4g.nano)`,
    );
  if (!TABLE_CLASSES.includes(s.payloadsTableClass))
    throw new Error(
      `payloadsTableClass: "${s.payloadsTableClass}" must be ${TABLE_CLASSES.join(' or ')}`,
    );
  validateNatInstances(s);
  positiveInteger('deliveryMemoryMb', s.deliveryMemoryMb);
  if (s.deliveryMemoryMb < 128 || s.deliveryMemoryMb > 10_240)
    throw new Error(
      `deliveryMemoryMb must be within 128..10240 (Lambda's range), got ${s.deliveryMemoryMb}`,
    );
  positiveInteger('deliveryConcurrency', s.deliveryConcurrency);
  withinRange('deliveryConcurrency', s.deliveryConcurrency, RANGES.deliveryConcurrency);
  positiveInteger('deliveryBatchSize', s.deliveryBatchSize);
  if (s.deliveryBatchSize > 10_000)
    throw new Error(`deliveryBatchSize must be at most 10000, got ${s.deliveryBatchSize}`);
  // Lambda takes the batching window in whole seconds (MaximumBatchingWindowInSeconds).
  const window = s.deliveryBatchingWindowSeconds;
  if (!Number.isInteger(window) || window < 0 || window > 300) {
    throw new Error(
      `deliveryBatchingWindowSeconds must be a whole number within 0..300, got ${window}`,
    );
  }
  if (s.deliveryBatchSize > 10 && s.deliveryBatchingWindowSeconds < 1) {
    throw new Error('deliveryBatchSize above 10 needs deliveryBatchingWindowSeconds >= 1');
  }
  positiveInteger('deliveryMaxConcurrency', s.deliveryMaxConcurrency);
  if (s.deliveryMaxConcurrency < 2 || s.deliveryMaxConcurrency > 1000) {
    throw new Error(
      `deliveryMaxConcurrency must be within 2..1000, got ${s.deliveryMaxConcurrency}`,
    );
  }
  positiveInteger('maxReceiveCount', s.maxReceiveCount);
  if (s.maxReceiveCount > 1000)
    throw new Error(
      `maxReceiveCount must be within 1..1000 (SQS's redrive range), got ${s.maxReceiveCount}`,
    );
  positiveInteger('definitionCacheTtlSeconds', s.definitionCacheTtlSeconds);
  withinRange(
    'definitionCacheTtlSeconds',
    s.definitionCacheTtlSeconds,
    RANGES.definitionCacheTtlSeconds,
  );
  withinRange('autoDisableAfterHours', s.autoDisableAfterHours, RANGES.autoDisableAfterHours);
  s.circuitBreaker = resolveCircuitBreaker(s.circuitBreaker);
  positiveInteger('retrySweepGraceMinutes', s.retrySweepGraceMinutes);
  if (s.retrySweepGraceMinutes < MIN_RETRY_SWEEP_GRACE_MINUTES || s.retrySweepGraceMinutes > 10_080)
    throw new Error(
      `retrySweepGraceMinutes must be within ${MIN_RETRY_SWEEP_GRACE_MINUTES}..10080 (beyond the Attempt task's own retries), got ${s.retrySweepGraceMinutes}`,
    );
  positiveInteger('retrySweepMaxStarts', s.retrySweepMaxStarts);
  if (s.retrySweepMaxStarts > 10_000)
    throw new Error(`retrySweepMaxStarts must be at most 10000, got ${s.retrySweepMaxStarts}`);
  positiveInteger('apiThrottleBurstLimit', s.apiThrottleBurstLimit);
  if (!(s.apiThrottleRateLimit > 0))
    throw new Error(`apiThrottleRateLimit must be positive, got ${s.apiThrottleRateLimit}`);
  positiveInteger('logRetentionDays', s.logRetentionDays);
  positiveInteger('oldestMessageAlarmSeconds', s.oldestMessageAlarmSeconds);
  if (!(s.failureRateAlarmThreshold > 0 && s.failureRateAlarmThreshold <= 1)) {
    throw new Error(
      `failureRateAlarmThreshold must be within (0, 1], got ${s.failureRateAlarmThreshold}`,
    );
  }
  if (s.eipAllocationIds !== undefined) {
    const single = s.natProvider === 'instance' && s.natInstances === 'single';
    if (single && s.eipAllocationIds.length !== 1) {
      throw new Error(
        `eipAllocationIds needs one allocation id with natInstances single, got ${s.eipAllocationIds.length}`,
      );
    }
    if (!single && s.eipAllocationIds.length !== s.maxAzs) {
      throw new Error(
        `eipAllocationIds needs one allocation id per AZ (${s.maxAzs}), got ${s.eipAllocationIds.length}`,
      );
    }
    for (const id of s.eipAllocationIds) {
      if (!/^eipalloc-[0-9a-f]+$/.test(id))
        throw new Error(`eipAllocationIds: "${id}" is not an allocation id (eipalloc-...)`);
    }
  }
  if (s.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(s.alarmEmail)) {
    throw new Error(`alarmEmail: "${s.alarmEmail}" is not an e-mail address`);
  }
  return s;
}

/**
 * The least grace of the retry sweeper: a retry execution's Attempt task retries a failing
 * invocation for about 4 minutes (30 + 60 + 120 s) and a throttled one for up to about 21
 * (5 s doubling, 8 times) before the execution fails; a sweep must not race them.
 */
export const MIN_RETRY_SWEEP_GRACE_MINUTES = 25;

/** natInstances is perAz or single, and single only means something with NAT instances. */
function validateNatInstances(s: ResolvedSettings): void {
  if (!NAT_INSTANCE_LAYOUTS.includes(s.natInstances))
    throw new Error(
      `natInstances: "${s.natInstances}" must be ${NAT_INSTANCE_LAYOUTS.join(' or ')}`,
    );
  if (s.natInstances === 'single' && s.natProvider !== 'instance')
    throw new Error('natInstances: "single" needs natProvider instance (NAT gateways are per AZ)');
}

/** The schedule drives the five Wait states: exactly RETRY_COUNT positive whole seconds. */
export function validateRetrySchedule(schedule: readonly number[]): void {
  if (schedule.length !== RETRY_COUNT) {
    throw new Error(
      `retryScheduleSeconds must have ${RETRY_COUNT} entries, got ${schedule.length}`,
    );
  }
  for (const s of schedule) {
    if (!Number.isInteger(s) || s < 1)
      throw new Error(`retryScheduleSeconds entries must be whole seconds >= 1, got ${s}`);
  }
}

/** A value the Lambdas would refuse at every cold start (lambdas/defaults.ts RANGES). */
function withinRange(
  name: string,
  value: number,
  range: { readonly min: number; readonly max: number },
): void {
  if (!(value >= range.min && value <= range.max))
    throw new Error(`${name} must be within ${range.min}..${range.max}, got ${value}`);
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got ${value}`);
}

/**
 * Context keys read by bin/app.ts (`-c key=value` or cdk.json "context"). Values from the
 * command line arrive as strings; cdk.json may hold numbers, arrays or objects.
 */
export const CONTEXT_KEYS = {
  regions: 'regions',
  stage: 'stage',
  retrySchedule: 'retrySchedule',
  retentionDays: 'retentionDays',
  eipAllocationIds: 'eipAllocationIds',
  natProvider: 'natProvider',
  natInstanceType: 'natInstanceType',
  natInstances: 'natInstances',
  payloadsTableClass: 'payloadsTableClass',
  tlsKeyExchange: 'tlsKeyExchange',
  maxAzs: 'maxAzs',
  alarmEmail: 'alarmEmail',
  removalPolicy: 'removalPolicy',
  deliveryMemoryMb: 'deliveryMemoryMb',
  deliveryConcurrency: 'deliveryConcurrency',
  deliveryBatchSize: 'deliveryBatchSize',
  deliveryBatchingWindowSeconds: 'deliveryBatchingWindowSeconds',
  deliveryMaxConcurrency: 'deliveryMaxConcurrency',
  maxReceiveCount: 'maxReceiveCount',
  definitionCacheTtlSeconds: 'definitionCacheTtlSeconds',
  autoDisableAfterHours: 'autoDisableAfterHours',
  circuitBreaker: 'circuitBreaker',
  retrySweepGraceMinutes: 'retrySweepGraceMinutes',
  retrySweepMaxStarts: 'retrySweepMaxStarts',
  apiThrottleRateLimit: 'apiThrottleRateLimit',
  apiThrottleBurstLimit: 'apiThrottleBurstLimit',
  logRetentionDays: 'logRetentionDays',
  oldestMessageAlarmSeconds: 'oldestMessageAlarmSeconds',
  failureRateAlarmThreshold: 'failureRateAlarmThreshold',
  console: 'console',
} as const;

type ContextReader = (key: string) => unknown;

/** The regions to deploy to: context `regions` (comma list or array), else CDK_DEFAULT_REGION. */
export function regionsFromContext(
  read: ContextReader,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const raw = read(CONTEXT_KEYS.regions) ?? env.CDK_DEFAULT_REGION;
  const regions = list(CONTEXT_KEYS.regions, raw);
  if (regions.length === 0) {
    throw new Error(
      'No region: pass -c regions=eu-central-1,us-east-1 (or set CDK_DEFAULT_REGION)',
    );
  }
  for (const r of regions) {
    if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(r))
      throw new Error(`regions: "${r}" is not an AWS region name`);
  }
  return [...new Set(regions)];
}

/** Settings for one region from context; `eipAllocationIds` may be per region ({"eu-central-1": [...]}). */
export function settingsFromContext(
  read: ContextReader,
  region: string,
  regionCount: number,
): WebhooksSettings {
  const num = (key: string): number | undefined => {
    const v = read(key);
    if (v === undefined || v === '') return undefined;
    // A boolean, array or object from cdk.json is no number, though Number() makes one of it.
    const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
    if (!Number.isFinite(n)) throw new Error(`context ${key}: "${String(v)}" is not a number`);
    return n;
  };
  const str = (key: string): string | undefined => {
    const v = read(key);
    return v === undefined || v === '' ? undefined : String(v);
  };
  // An object, or its JSON on the command line (-c circuitBreaker='{"cooldownSeconds":60}').
  const jsonObject = (key: string): Record<string, unknown> | undefined => {
    const v = read(key);
    if (v === undefined || v === '') return undefined;
    let parsed: unknown = v;
    if (typeof v === 'string') {
      try {
        parsed = JSON.parse(v);
      } catch {
        throw new Error(`context ${key}: "${v}" is not a JSON object`);
      }
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error(`context ${key}: must be a JSON object`);
    return parsed as Record<string, unknown>;
  };
  const bool = (key: string): boolean | undefined => {
    const v = read(key);
    if (v === undefined || v === '') return undefined;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    throw new Error(`context ${key}: "${String(v)}" must be true or false`);
  };
  const schedule = read(CONTEXT_KEYS.retrySchedule);
  const removal = str(CONTEXT_KEYS.removalPolicy);
  if (removal !== undefined && removal !== 'retain' && removal !== 'destroy') {
    throw new Error(`context removalPolicy: "${removal}" must be retain or destroy`);
  }
  return {
    retryScheduleSeconds:
      schedule === undefined ? undefined : list(CONTEXT_KEYS.retrySchedule, schedule).map(Number),
    retentionDays: num(CONTEXT_KEYS.retentionDays),
    eipAllocationIds: eipsForRegion(read(CONTEXT_KEYS.eipAllocationIds), region, regionCount),
    natProvider: str(CONTEXT_KEYS.natProvider) as NatProviderName | undefined,
    natInstanceType: str(CONTEXT_KEYS.natInstanceType),
    natInstances: str(CONTEXT_KEYS.natInstances) as NatInstancesLayout | undefined,
    payloadsTableClass: str(CONTEXT_KEYS.payloadsTableClass) as TableClassName | undefined,
    tlsKeyExchange: str(CONTEXT_KEYS.tlsKeyExchange) as TlsKeyExchange | undefined,
    maxAzs: num(CONTEXT_KEYS.maxAzs),
    alarmEmail: str(CONTEXT_KEYS.alarmEmail),
    removalPolicy:
      removal === undefined
        ? undefined
        : removal === 'destroy'
          ? RemovalPolicy.DESTROY
          : RemovalPolicy.RETAIN,
    deliveryMemoryMb: num(CONTEXT_KEYS.deliveryMemoryMb),
    deliveryConcurrency: num(CONTEXT_KEYS.deliveryConcurrency),
    deliveryBatchSize: num(CONTEXT_KEYS.deliveryBatchSize),
    deliveryBatchingWindowSeconds: num(CONTEXT_KEYS.deliveryBatchingWindowSeconds),
    deliveryMaxConcurrency: num(CONTEXT_KEYS.deliveryMaxConcurrency),
    maxReceiveCount: num(CONTEXT_KEYS.maxReceiveCount),
    definitionCacheTtlSeconds: num(CONTEXT_KEYS.definitionCacheTtlSeconds),
    autoDisableAfterHours: num(CONTEXT_KEYS.autoDisableAfterHours),
    circuitBreaker: jsonObject(CONTEXT_KEYS.circuitBreaker),
    retrySweepGraceMinutes: num(CONTEXT_KEYS.retrySweepGraceMinutes),
    retrySweepMaxStarts: num(CONTEXT_KEYS.retrySweepMaxStarts),
    apiThrottleRateLimit: num(CONTEXT_KEYS.apiThrottleRateLimit),
    apiThrottleBurstLimit: num(CONTEXT_KEYS.apiThrottleBurstLimit),
    logRetentionDays: num(CONTEXT_KEYS.logRetentionDays),
    oldestMessageAlarmSeconds: num(CONTEXT_KEYS.oldestMessageAlarmSeconds),
    failureRateAlarmThreshold: num(CONTEXT_KEYS.failureRateAlarmThreshold),
    console: bool(CONTEXT_KEYS.console),
  };
}

function eipsForRegion(raw: unknown, region: string, regionCount: number): string[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  let value: unknown = raw;
  if (typeof value === 'string' && value.trim().startsWith('{'))
    value = parseJson(CONTEXT_KEYS.eipAllocationIds, value, 'a JSON object');
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const perRegion = (value as Record<string, unknown>)[region];
    return perRegion === undefined ? undefined : list(CONTEXT_KEYS.eipAllocationIds, perRegion);
  }
  // A flat list names addresses of one region: ambiguous when deploying to several.
  if (regionCount > 1) {
    throw new Error(
      'eipAllocationIds: with several regions give a JSON object {"<region>": ["eipalloc-..."]}',
    );
  }
  return list(CONTEXT_KEYS.eipAllocationIds, value);
}

/** Accepts an array, a JSON array string or a comma list. */
function list(key: string, raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  if (Array.isArray(raw)) return raw.map((v) => String(v).trim()).filter((v) => v !== '');
  const text = String(raw).trim();
  if (text.startsWith('[')) return list(key, parseJson(key, text, 'a JSON array'));
  return text
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** JSON given on the command line; a syntax error names the context key. */
function parseJson(key: string, text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`context ${key}: "${text}" is not ${what}`);
  }
}
