/**
 * Destination health (README "Destination health"): one circuit per webhook, pause,
 * auto-disable, rate limit. The record, the tunables and the pure rules; no I/O here.
 *
 * The record is written only when something goes wrong (a failed or slow attempt, a state
 * change, pause/resume) and read through a short per-container cache, so a successful attempt
 * to a healthy webhook adds no DynamoDB write.
 */

import { DEFAULTS } from '../../defaults';

export const CIRCUIT_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];

/** What GET /webhooks/{id}/health shows as `state`. */
export type HealthState = CircuitState | 'PAUSED' | 'DISABLED';
export type DisabledReason = 'AUTO_DISABLED' | 'MANUAL';

export interface HealthRecord {
  readonly webhookId: string;
  /** Bumped by every transition (optimistic concurrency); counters do not bump it. */
  readonly version: number;
  readonly state: CircuitState;
  /**
   * When the state the API shows began: the pause, else `state`. A circuit transition while
   * paused keeps it; resume and a re-enable set it.
   */
  readonly since: string;
  /** Failed or slow attempts in a row (shared by every container). */
  readonly consecutiveFailures: number;
  readonly paused: boolean;
  /** Set when the circuit stayed open for autoDisableAfterHours; cleared by resume. */
  readonly autoDisabled: boolean;
  /**
   * When the webhook was disabled (auto-disable, PUT enabled:false) or deleted; null while it
   * is enabled. The health shows it as `since` of DISABLED, and a notification parked PAUSED
   * while it is set (by a delivery that still had the enabled definition cached) wakes a
   * driver, which settles it.
   */
  readonly disabledAt: string | null;
  /** Start of the current outage (first opening; kept while it re-opens from HALF_OPEN). */
  readonly openedAt: string | null;
  /** Nominal (unscaled) cool-down of the current open period, seconds. */
  readonly cooldownSeconds: number;
  readonly nextProbeAt: string | null;
  /** A 429/503 with Retry-After slows the whole webhook until then. */
  readonly slowUntil: string | null;
  /** Health driver executions started so far; the running one is `driverSeq`. */
  readonly driverSeq: number;
  readonly driverRunning: boolean;
  /** Last time a notification was parked while the driver ran (its end checks this). */
  readonly driverWantedAt: string | null;
  /**
   * Last sign of life of the running driver (set when it starts, then by its steps). A driver
   * silent for driverLeaseMs is presumed dead and replaced by the next park. null on records
   * written before drivers beat: never presumed dead until their driver's next step.
   */
  readonly driverBeatAt: string | null;
}

export function initialHealth(webhookId: string, now: Date): HealthRecord {
  return {
    webhookId,
    version: 0,
    state: 'CLOSED',
    since: now.toISOString(),
    consecutiveFailures: 0,
    paused: false,
    autoDisabled: false,
    disabledAt: null,
    openedAt: null,
    cooldownSeconds: 0,
    nextProbeAt: null,
    slowUntil: null,
    driverSeq: 0,
    driverRunning: false,
    driverWantedAt: null,
    driverBeatAt: null,
  };
}

export interface HealthSettings {
  /** The circuit opens after this many failed (or slow) attempts in a row. Default 5. */
  readonly openAfterConsecutiveFailures: number;
  /** ...or when at least `windowFailureRatio` of `windowMinAttempts` or more attempts in `windowSeconds` failed. */
  readonly windowSeconds: number;
  readonly windowMinAttempts: number;
  readonly windowFailureRatio: number;
  /** First cool-down before a probe (seconds), doubling up to maxCooldownSeconds. */
  readonly cooldownSeconds: number;
  readonly maxCooldownSeconds: number;
  /** An open circuit older than this disables the webhook. Default 120 (5 days). */
  readonly autoDisableAfterHours: number;
  /** An attempt taking at least this long counts against health like a failure. Default 10 s. */
  readonly slowThresholdMs: number;
  /** Multiplies cool-downs, the auto-disable period and Retry-After (RETRY_TIME_SCALE). */
  readonly timeScale: number;
  /** How long a container trusts its cached health record. */
  readonly cacheTtlMs: number;
  /** How long a delivery may wait in-line for its rate-limit slot before parking instead. */
  readonly maxInlineWaitMs: number;
  /** Parked notifications a driver step releases at most. */
  readonly releasePageSize: number;
  /** Concurrent sends of a driver step (further capped by the rate limit). */
  readonly releaseConcurrency: number;
  /** Steps one driver execution runs before handing over to a fresh one (history limit). */
  readonly stepsPerExecution: number;
  /** How long after the last park a driver may end (covers index propagation). */
  readonly endGraceMs: number;
  /** A running driver beats at most this often (one write, only while it runs). */
  readonly driverBeatIntervalMs: number;
  /**
   * A driver silent this long is presumed dead (its execution failed, timed out or was stopped):
   * the next park or resume starts a new one. Well above the longest gap between two steps
   * (a wait is capped at the 5-minute heartbeat). Real time, not scaled.
   */
  readonly driverLeaseMs: number;
}

/** The circuit breaker's tunable part (context `circuitBreaker`, env CIRCUIT_BREAKER). */
export type CircuitBreakerSettings = Pick<
  HealthSettings,
  | 'openAfterConsecutiveFailures'
  | 'windowSeconds'
  | 'windowMinAttempts'
  | 'windowFailureRatio'
  | 'cooldownSeconds'
  | 'maxCooldownSeconds'
>;

const CIRCUIT_BREAKER_RANGES: Record<
  keyof CircuitBreakerSettings,
  { min: number; max: number; integer: boolean }
> = {
  openAfterConsecutiveFailures: { min: 1, max: 100, integer: true },
  windowSeconds: { min: 10, max: 3600, integer: true },
  windowMinAttempts: { min: 1, max: 100_000, integer: true },
  windowFailureRatio: { min: 0.01, max: 1, integer: false },
  cooldownSeconds: { min: 1, max: 3600, integer: false },
  maxCooldownSeconds: { min: 1, max: 86_400, integer: false },
};

/**
 * The circuit breaker settings in force: the defaults overridden by `overrides` (a JSON object
 * of some of the settings). Throws an Error naming the setting for an unknown key or a value out
 * of range, so a bad deployment fails at synth time and a bad variable at cold start.
 */
export function resolveCircuitBreaker(overrides: unknown): CircuitBreakerSettings {
  if (overrides === undefined || overrides === null) return { ...DEFAULTS.circuitBreaker };
  if (typeof overrides !== 'object' || Array.isArray(overrides))
    throw new Error('circuitBreaker must be an object of settings');
  const resolved: Record<string, number> = { ...DEFAULTS.circuitBreaker };
  for (const [key, value] of Object.entries(overrides)) {
    const range = CIRCUIT_BREAKER_RANGES[key as keyof CircuitBreakerSettings];
    if (!range)
      throw new Error(
        `circuitBreaker.${key} is not a setting (${Object.keys(CIRCUIT_BREAKER_RANGES).join(', ')})`,
      );
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < range.min ||
      value > range.max ||
      (range.integer && !Number.isInteger(value))
    )
      throw new Error(
        `circuitBreaker.${key} must be ${range.integer ? 'an integer' : 'a number'} within ${range.min}..${range.max}`,
      );
    resolved[key] = value;
  }
  const settings = resolved as unknown as CircuitBreakerSettings;
  if (settings.maxCooldownSeconds < settings.cooldownSeconds)
    throw new Error('circuitBreaker.maxCooldownSeconds must be at least cooldownSeconds');
  return settings;
}

export const DEFAULT_HEALTH_SETTINGS: HealthSettings = {
  ...DEFAULTS.circuitBreaker,
  autoDisableAfterHours: DEFAULTS.autoDisableAfterHours,
  slowThresholdMs: DEFAULTS.slowAttemptThresholdMs,
  timeScale: 1,
  cacheTtlMs: 5_000,
  maxInlineWaitMs: 1_000,
  releasePageSize: 100,
  releaseConcurrency: 16,
  stepsPerExecution: 500,
  endGraceMs: 3_000,
  driverBeatIntervalMs: 60_000,
  driverLeaseMs: 15 * 60_000,
};

/** Whether the record's running driver stopped beating for longer than the lease. */
export function driverPresumedDead(
  record: HealthRecord,
  now: Date,
  settings: Pick<HealthSettings, 'driverLeaseMs'>,
): boolean {
  if (!record.driverRunning || record.driverBeatAt === null) return false;
  return now.getTime() - Date.parse(record.driverBeatAt) >= settings.driverLeaseMs;
}

/** Whether an attempt counts against the destination's health. */
export function countsAsFailure(
  attempt: {
    readonly outcome: 'SENT' | 'FAILED';
    readonly durationMs: number;
    readonly error: string | null;
  },
  settings: Pick<HealthSettings, 'slowThresholdMs'>,
): boolean {
  // A refused target is the definition's problem, not the destination's.
  if (attempt.error === 'BLOCKED_URL') return false;
  return attempt.outcome === 'FAILED' || attempt.durationMs >= settings.slowThresholdMs;
}

/** The opening rule over the shared consecutive count and a container's recent window. */
export function shouldOpen(
  consecutiveFailures: number,
  window: { readonly attempts: number; readonly failed: number },
  settings: HealthSettings,
): boolean {
  if (consecutiveFailures >= settings.openAfterConsecutiveFailures) return true;
  return (
    window.attempts >= settings.windowMinAttempts &&
    window.failed >= window.attempts * settings.windowFailureRatio
  );
}

/** Nominal cool-down after a failed probe: doubled, capped. */
export function nextCooldown(current: number, settings: HealthSettings): number {
  if (current <= 0) return settings.cooldownSeconds;
  return Math.min(current * 2, settings.maxCooldownSeconds);
}

export function afterSeconds(now: Date, nominalSeconds: number, scale: number): string {
  return new Date(now.getTime() + nominalSeconds * scale * 1000).toISOString();
}

export function autoDisableDue(record: HealthRecord, now: Date, settings: HealthSettings): boolean {
  if (record.state === 'CLOSED' || record.openedAt === null) return false;
  const limitMs = settings.autoDisableAfterHours * 3600 * 1000 * settings.timeScale;
  return now.getTime() - Date.parse(record.openedAt) >= limitMs;
}

/**
 * Rate-limit slots: `shards` independent slot sequences, each spaced so their sum stays under
 * the limit. The spacing keeps a 10 % margin, so an attempt may start a little after its slot
 * (slotLatenessMs) and the limit still holds in every second.
 */
export const RATE_LIMIT_MARGIN = 0.9;
export const RATE_SLOTS_PER_SHARD = 200;

export function rateShards(limitPerSecond: number): number {
  return Math.max(1, Math.ceil(limitPerSecond / RATE_SLOTS_PER_SHARD));
}

export function slotSpacingMs(limitPerSecond: number): number {
  return (rateShards(limitPerSecond) * 1000) / (limitPerSecond * RATE_LIMIT_MARGIN);
}

/**
 * How late after its slot an attempt may still start (it must start before this much has
 * passed). A shard's slots are at least slotSpacingMs apart, so n + 1 of them, n being
 * floor(limit / shards), span n spacings or more: a second and this. Attempts that start less
 * than this after their slots thus put at most n starts of each shard, `limit` in all, in any
 * one-second window. An attempt that would start later (a busy container woke up late) does
 * not start; it waits for another slot.
 */
export function slotLatenessMs(limitPerSecond: number): number {
  const perShard = Math.floor(limitPerSecond / rateShards(limitPerSecond));
  return Math.floor(perShard * slotSpacingMs(limitPerSecond) - 1000);
}

/**
 * The record once its webhook is enabled again (PUT enabled:true, or resume after an
 * auto-disable): a fresh circuit, as after resume (an outage clock that kept running while
 * disabled would disable it again at once). The pause is not touched: only resume lifts it.
 */
export function reenabledHealth(record: HealthRecord, now: Date): HealthRecord {
  return {
    ...record,
    autoDisabled: false,
    disabledAt: null,
    state: 'CLOSED',
    since: now.toISOString(),
    consecutiveFailures: 0,
    openedAt: null,
    cooldownSeconds: 0,
    nextProbeAt: null,
    slowUntil: null,
  };
}

/** `since` for a circuit transition at `now`: kept while paused (the pause is what shows). */
export function sinceOf(record: HealthRecord, now: Date): string {
  return record.paused ? record.since : now.toISOString();
}

/** What the API shows for a record and its definition. */
export function healthStateOf(
  record: HealthRecord,
  enabled: boolean,
): { state: HealthState; disabledReason: DisabledReason | null } {
  if (!enabled)
    return { state: 'DISABLED', disabledReason: record.autoDisabled ? 'AUTO_DISABLED' : 'MANUAL' };
  if (record.paused) return { state: 'PAUSED', disabledReason: null };
  return { state: record.state, disabledReason: null };
}
