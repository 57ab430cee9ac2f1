/**
 * The delivery path's view of destination health: whether a notification may be sent now or
 * must be parked (and why), what an attempt's outcome does to the circuit, and making sure a
 * webhook with parked notifications has its one driver execution.
 *
 * Cheap when healthy: the record is read through a per-container cache (cacheTtlMs); a
 * successful attempt writes nothing, unless the shared consecutive-failure count this container
 * last saw was above zero (then one reset) or the circuit was HALF_OPEN (then it closes).
 * Successes are summed in memory and added to the minute counter at most once per
 * countFlushMs per container and webhook, or together with a failure's write; what is left
 * when the webhook goes quiet is added when its interval is up.
 */
import type {
  Clock,
  HealthDriverScheduler,
  HealthObserver,
  HealthStore,
  NotificationRef,
  OperationalEventPublisher,
  WebhookStore,
} from '../../ports';
import type { Attempt, ParkReason, WebhookDefinition } from '../model';
import type { PlatformEventType } from '../subscriptions';
import {
  afterSeconds,
  countsAsFailure,
  driverPresumedDead,
  type HealthRecord,
  type HealthSettings,
  initialHealth,
  nextCooldown,
  rateShards,
  shouldOpen,
  sinceOf,
  slotLatenessMs,
  slotSpacingMs,
} from './model';

export type Admission =
  /** `slot`: with a rate limit, when the attempt may start (see startAt). */
  | { readonly kind: 'send'; readonly slot?: number }
  | { readonly kind: 'park'; readonly reason: ParkReason };

export interface HealthGateDeps {
  readonly store: HealthStore;
  readonly scheduler: HealthDriverScheduler;
  readonly clock: Clock;
  readonly settings: HealthSettings;
  readonly observer: HealthObserver;
  /** Publishes platform.circuit.opened|closed and platform.webhook.disabled; none when absent. */
  readonly events?: OperationalEventPublisher;
  /** Names the webhook in operational events. */
  readonly webhooks?: Pick<WebhookStore, 'get'>;
  /** How often a container adds its successes to the shared counters. Default 10 s. */
  readonly countFlushMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/** One-second buckets of a container's own attempts, for the failure-ratio rule. */
interface Window {
  readonly attempts: number[];
  readonly failed: number[];
  second: number;
}

const WANTED_MARK_INTERVAL_MS = 1000;
const TRANSITION_TRIES = 5;

export class HealthGate {
  private readonly cache = new Map<string, { record: HealthRecord | undefined; until: number }>();
  private readonly reading = new Map<string, Promise<HealthRecord | undefined>>();
  private readonly windows = new Map<string, Window>();
  private readonly pendingSent = new Map<string, number>();
  private readonly lastFlush = new Map<string, number>();
  private readonly flushTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly lastWanted = new Map<string, number>();
  private readonly slotLocks = new Map<string, Promise<void>>();
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly deps: HealthGateDeps) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = deps.random ?? Math.random;
  }

  get settings(): HealthSettings {
    return this.deps.settings;
  }

  /** The record as this container knows it (cached for cacheTtlMs), or a fresh read. */
  async current(webhookId: string, fresh = false): Promise<HealthRecord | undefined> {
    const now = this.deps.clock.now().getTime();
    const hit = this.cache.get(webhookId);
    if (!fresh && hit && hit.until > now) return hit.record;
    // Concurrent deliveries that find the cache expired share one read.
    const pending = fresh ? undefined : this.reading.get(webhookId);
    if (pending) return pending;
    const read = this.deps.store.get(webhookId).then((record) => {
      this.remember(record, webhookId);
      return record;
    });
    if (!fresh) this.reading.set(webhookId, read);
    try {
      return await read;
    } finally {
      if (this.reading.get(webhookId) === read) this.reading.delete(webhookId);
    }
  }

  /**
   * Whether a notification for `definition` may be sent now. With a rate limit it reserves a
   * slot at most maxInlineWaitMs ahead; the attempt waits for it with startAt.
   */
  async admit(definition: WebhookDefinition): Promise<Admission> {
    const record = await this.current(definition.id);
    const now = this.deps.clock.now();
    if (record?.paused) return { kind: 'park', reason: 'PAUSED' };
    if (record?.state === 'OPEN') return { kind: 'park', reason: 'CIRCUIT_OPEN' };
    if (record?.slowUntil && Date.parse(record.slowUntil) > now.getTime())
      return { kind: 'park', reason: 'RATE_LIMITED' };
    const limit = definition.rateLimitPerSecond;
    if (limit !== undefined) {
      // A backlog is being released in order: join it rather than overtake it.
      if (record?.driverRunning) return { kind: 'park', reason: 'RATE_LIMITED' };
      const slot = await this.reserveSlot(definition, this.deps.settings.maxInlineWaitMs);
      if (slot === undefined) return { kind: 'park', reason: 'RATE_LIMITED' };
      return { kind: 'send', slot };
    }
    return { kind: 'send' };
  }

  /**
   * Waits for a rate-limit slot and answers the attempt's start time: now, unless now is too
   * late for the slot (slotLatenessMs; say the container was busy when the slot came); then
   * undefined, and the attempt must not start: it waits for another slot. The limit is on
   * when attempts start, so the caller starts the request with nothing awaited in between.
   */
  async startAt(definition: WebhookDefinition, slot: number): Promise<Date | undefined> {
    await this.waitUntil(slot);
    const now = this.deps.clock.now();
    const limit = definition.rateLimitPerSecond;
    if (limit !== undefined && now.getTime() - slot >= slotLatenessMs(limit)) return undefined;
    return now;
  }

  /** Reserves a rate-limit slot at most `horizonMs` ahead (epoch ms), or undefined. */
  async reserveSlot(definition: WebhookDefinition, horizonMs: number): Promise<number | undefined> {
    const [slot] = await this.reserveSlots(definition, horizonMs, 1);
    return slot;
  }

  /**
   * Reserves up to `count` rate-limit slots at most `horizonMs` ahead. One reservation at a time
   * per webhook in a container, so a container's concurrent deliveries do not race each other
   * for the shared slot item.
   */
  async reserveSlots(
    definition: WebhookDefinition,
    horizonMs: number,
    count: number,
  ): Promise<number[]> {
    const limit = definition.rateLimitPerSecond;
    if (limit === undefined) return Array(count).fill(this.deps.clock.now().getTime());
    const previous = this.slotLocks.get(definition.id) ?? Promise.resolve();
    const reservation = previous.then(() =>
      this.deps.store.reserveSlots(
        definition.id,
        Math.floor(this.random() * rateShards(limit)),
        slotSpacingMs(limit),
        this.deps.clock.now().getTime(),
        horizonMs,
        count,
      ),
    );
    const settled = reservation.then(
      () => undefined,
      () => undefined,
    );
    this.slotLocks.set(definition.id, settled);
    try {
      return await reservation;
    } finally {
      if (this.slotLocks.get(definition.id) === settled) this.slotLocks.delete(definition.id);
    }
  }

  /** Returns at `epochMs` or later (a timer may fire a little early by the clock). */
  async waitUntil(epochMs: number): Promise<void> {
    for (
      let delay = epochMs - this.deps.clock.now().getTime();
      delay > 0;
      delay = epochMs - this.deps.clock.now().getTime()
    )
      await this.sleep(delay);
  }

  /** Whether the circuit is (as far as this container knows) open or paused: stop sending. */
  async blocked(webhookId: string): Promise<boolean> {
    const record = await this.current(webhookId);
    return record?.state === 'OPEN' || record?.paused === true;
  }

  /**
   * What an attempt's outcome does to health. Returns the record as it stands afterwards
   * (undefined when this container knows of none: healthy).
   */
  async observe(
    webhookId: string,
    attempt: Attempt,
    retryAfterSeconds?: number,
  ): Promise<HealthRecord | undefined> {
    const { store, clock, settings } = this.deps;
    const now = clock.now();
    const failed = countsAsFailure(attempt, settings);
    const window = this.tally(webhookId, now, failed);
    if (!failed) {
      this.pendingSent.set(webhookId, (this.pendingSent.get(webhookId) ?? 0) + 1);
      let record = await this.current(webhookId);
      if (record && record.consecutiveFailures > 0) {
        await store.resetFailures(webhookId);
        record = { ...record, consecutiveFailures: 0 };
        this.remember(record, webhookId);
      }
      if (record?.state === 'HALF_OPEN') record = await this.close(webhookId);
      await this.maybeFlush(webhookId, now, 0);
      return record;
    }

    let record = await store.addFailure(webhookId, now);
    this.remember(record, webhookId);
    await this.maybeFlush(webhookId, now, 1);
    const throttled = attempt.statusCode === 429 || attempt.statusCode === 503;
    if (throttled && retryAfterSeconds !== undefined && retryAfterSeconds > 0) {
      // At most the longest cool-down: a receiver's Retry-After (a huge one included, which
      // would not even make a date) holds the whole webhook back no longer than an open circuit
      // waits between probes; a receiver still busy then says so again.
      const seconds = Math.min(retryAfterSeconds, settings.maxCooldownSeconds);
      const until = afterSeconds(now, seconds, settings.timeScale);
      await store.slowDown(webhookId, until);
      record = { ...record, slowUntil: until };
      this.remember(record, webhookId);
    }
    if (record.paused) return record;
    if (
      record.state === 'HALF_OPEN' ||
      (record.state === 'CLOSED' && shouldOpen(record.consecutiveFailures, window, settings))
    )
      return this.open(record);
    return record;
  }

  /** Opens the circuit (or re-opens it from HALF_OPEN with a doubled cool-down). */
  async open(from: HealthRecord): Promise<HealthRecord> {
    const { store, clock, settings } = this.deps;
    let record: HealthRecord | undefined = from;
    for (let tries = 0; tries < TRANSITION_TRIES && record; tries++) {
      if (record.state === 'OPEN') return record;
      const now = clock.now();
      const cooldown =
        record.state === 'HALF_OPEN'
          ? nextCooldown(record.cooldownSeconds, settings)
          : settings.cooldownSeconds;
      const next: HealthRecord = {
        ...record,
        state: 'OPEN',
        since: sinceOf(record, now),
        openedAt: record.openedAt ?? now.toISOString(),
        cooldownSeconds: cooldown,
        nextProbeAt: afterSeconds(now, cooldown, settings.timeScale),
      };
      if (await store.transition(next, record.version)) {
        const opened = { ...next, version: record.version + 1 };
        this.remember(opened, from.webhookId);
        this.deps.observer.circuitOpened(from.webhookId, record.consecutiveFailures);
        await this.publish(
          'platform.circuit.opened',
          from.webhookId,
          { consecutiveFailures: record.consecutiveFailures, nextProbeAt: next.nextProbeAt },
          next.since,
        );
        await this.ensureDriver(from.webhookId);
        return opened;
      }
      record = await this.current(from.webhookId, true);
    }
    return record ?? from;
  }

  /** Closes the circuit: counters reset, cool-down back to its start. */
  async close(webhookId: string): Promise<HealthRecord | undefined> {
    const { store, clock } = this.deps;
    for (let tries = 0; tries < TRANSITION_TRIES; tries++) {
      const record = await this.current(webhookId, true);
      if (!record || record.state === 'CLOSED') return record;
      const next: HealthRecord = {
        ...record,
        state: 'CLOSED',
        since: sinceOf(record, clock.now()),
        consecutiveFailures: 0,
        openedAt: null,
        cooldownSeconds: 0,
        nextProbeAt: null,
      };
      if (await store.transition(next, record.version)) {
        const closed = { ...next, version: record.version + 1 };
        this.remember(closed, webhookId);
        this.deps.observer.circuitClosed(webhookId);
        await this.publish('platform.circuit.closed', webhookId, {}, next.since);
        return closed;
      }
    }
    return this.current(webhookId, true);
  }

  /**
   * Makes sure the webhook's driver execution runs (after a notification was parked, or a
   * resume). At most one mark per second per container while it runs; one start otherwise.
   * A driver that stopped beating (its execution failed, timed out or was stopped) is replaced:
   * the next one has the next sequence number, so its execution name is new, and the version
   * check lets one container only start it; the old one, should it wake, sees it is no longer
   * the driver and ends.
   */
  async ensureDriver(webhookId: string): Promise<void> {
    const { store, clock, scheduler, settings } = this.deps;
    const cached = this.cache.get(webhookId)?.record;
    const nowMs = clock.now().getTime();
    if (
      cached?.driverRunning &&
      nowMs - (this.lastWanted.get(webhookId) ?? 0) < WANTED_MARK_INTERVAL_MS
    )
      return;
    for (let tries = 0; tries < TRANSITION_TRIES; tries++) {
      const now = clock.now();
      const marked = await store.markWanted(webhookId, now);
      this.lastWanted.set(webhookId, now.getTime());
      this.remember(marked, webhookId);
      const dead = driverPresumedDead(marked, now, settings);
      if (marked.driverRunning && !dead) return;
      const next: HealthRecord = {
        ...marked,
        driverRunning: true,
        driverSeq: marked.driverSeq + 1,
        driverWantedAt: now.toISOString(),
        driverBeatAt: now.toISOString(),
      };
      if (!(await store.transition(next, marked.version))) continue;
      this.remember({ ...next, version: marked.version + 1 }, webhookId);
      if (dead)
        this.deps.observer.driverRestarted(webhookId, next.driverSeq, marked.driverBeatAt ?? '');
      try {
        await scheduler.startDriver({ webhookId, seq: next.driverSeq, steps: 0 });
      } catch (err) {
        // Not started: give the slot back so the next park (or the SQS retry) starts it.
        await store
          .transition({ ...next, driverRunning: false }, marked.version + 1)
          .catch(() => false);
        this.cache.delete(webhookId);
        throw err;
      }
      return;
    }
  }

  async reportParked(ref: Required<NotificationRef>, reason: ParkReason): Promise<void> {
    this.deps.observer.parked(ref, reason);
    // A paused webhook needs no driver (resume releases what waits), unless it was disabled or
    // deleted meanwhile (this delivery had the enabled definition cached): the driver settles it.
    if (reason !== 'PAUSED' || (await this.current(ref.webhookId))?.disabledAt)
      await this.ensureDriver(ref.webhookId);
  }

  /** Forgets what this container cached (after a transition made elsewhere in the same process). */
  remember(record: HealthRecord | undefined, webhookId: string): void {
    this.cache.set(webhookId, {
      record,
      until: this.deps.clock.now().getTime() + this.deps.settings.cacheTtlMs,
    });
  }

  forget(webhookId: string): void {
    this.cache.delete(webhookId);
  }

  /** An operational event about a webhook, deduplicated by `key` (the instant of the change). */
  async publish(
    type: PlatformEventType,
    webhookId: string,
    data: Record<string, unknown>,
    key: string,
  ): Promise<void> {
    if (!this.deps.events) return;
    const definition = await this.deps.webhooks?.get(webhookId);
    await this.deps.events.publish(
      type,
      { id: webhookId, name: definition?.name ?? null, events: definition?.events },
      data,
      { key },
    );
  }

  /** A fresh record for a webhook that never had one. */
  initial(webhookId: string): HealthRecord {
    return initialHealth(webhookId, this.deps.clock.now());
  }

  private tally(
    webhookId: string,
    now: Date,
    failed: boolean,
  ): { attempts: number; failed: number } {
    const size = Math.max(1, Math.round(this.deps.settings.windowSeconds));
    const second = Math.floor(now.getTime() / 1000);
    let window = this.windows.get(webhookId);
    if (!window) {
      window = { attempts: new Array(size).fill(0), failed: new Array(size).fill(0), second };
      this.windows.set(webhookId, window);
    }
    // Clear the buckets of the seconds that passed since the last attempt.
    for (let s = window.second + 1; s <= second && s - window.second <= size; s++) {
      window.attempts[s % size] = 0;
      window.failed[s % size] = 0;
    }
    window.second = Math.max(window.second, second);
    const slot = second % size;
    window.attempts[slot] = (window.attempts[slot] ?? 0) + 1;
    if (failed) window.failed[slot] = (window.failed[slot] ?? 0) + 1;
    let attempts = 0;
    let failedSum = 0;
    for (let i = 0; i < size; i++) {
      attempts += window.attempts[i] ?? 0;
      failedSum += window.failed[i] ?? 0;
    }
    return { attempts, failed: failedSum };
  }

  private async maybeFlush(webhookId: string, now: Date, failed: number): Promise<void> {
    const sent = this.pendingSent.get(webhookId) ?? 0;
    const last = this.lastFlush.get(webhookId);
    const interval = this.deps.countFlushMs ?? 10_000;
    if (last === undefined) this.lastFlush.set(webhookId, now.getTime());
    const due = interval === 0 || (last !== undefined && now.getTime() - last >= interval);
    if (failed === 0 && !(due && sent > 0)) {
      if (sent > 0) this.flushLater(webhookId, (last ?? now.getTime()) + interval - now.getTime());
      return;
    }
    await this.flush(webhookId, now, failed);
  }

  private async flush(webhookId: string, now: Date, failed: number): Promise<void> {
    clearTimeout(this.flushTimers.get(webhookId));
    this.flushTimers.delete(webhookId);
    const sent = this.pendingSent.get(webhookId) ?? 0;
    this.pendingSent.set(webhookId, 0);
    this.lastFlush.set(webhookId, now.getTime());
    try {
      await this.deps.store.addCounts(webhookId, now, { sent, failed });
    } catch {
      // Counters are for display; a lost increment must not fail a delivery.
      this.pendingSent.set(webhookId, (this.pendingSent.get(webhookId) ?? 0) + sent);
    }
  }

  /**
   * Successes not yet added when the webhook goes quiet are added when their interval is up,
   * so the counters do not wait for the next attempt (which may never come). The timer keeps
   * no process alive; in a Lambda frozen meanwhile it fires when the environment next runs.
   */
  private flushLater(webhookId: string, delayMs: number): void {
    if (this.flushTimers.has(webhookId)) return;
    const timer = setTimeout(
      () => {
        this.flushTimers.delete(webhookId);
        if ((this.pendingSent.get(webhookId) ?? 0) > 0)
          void this.flush(webhookId, this.deps.clock.now(), 0);
      },
      Math.max(0, delayMs),
    );
    timer.unref?.();
    this.flushTimers.set(webhookId, timer);
  }
}
