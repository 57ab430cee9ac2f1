/**
 * The health driver: ONE Step Functions execution per webhook at a time (named after the
 * webhook and a sequence number) loops Step -> Choice -> Wait until nothing is left for it.
 * Each step, run by the attempt Lambda, does one of:
 *   - webhook deleted or disabled: settle a page of parked notifications FAILED (WEBHOOK_DISABLED);
 *   - circuit open: auto-disable when due; else wait for the cool-down, then probe with the
 *     oldest parked notification (success closes the circuit, failure doubles the cool-down);
 *   - slowed by Retry-After: wait until then;
 *   - otherwise: release a page of parked notifications, oldest first, paced by the rate limit;
 *   - nothing parked (or paused: resume starts a new driver): end.
 * Waits are Wait states of the machine, never sleeps in the Lambda (but for rate-limit slots
 * of at most one step's budget).
 */
import type {
  Clock,
  HealthDriverInput,
  HealthDriverScheduler,
  HealthObserver,
  HealthStore,
  NotificationStore,
  WebhookStore,
} from '../../ports';
import { forEachBounded } from '../concurrency';
import { ConflictError } from '../errors';
import type { FailureReason, WebhookDefinition } from '../model';
import type { HealthGate } from './gate';
import {
  afterSeconds,
  autoDisableDue,
  type HealthRecord,
  type HealthSettings,
  nextCooldown,
  sinceOf,
} from './model';

export interface HealthDriverOutput extends HealthDriverInput {
  readonly done: boolean;
  /** ISO instant of the next step. */
  readonly wakeAt: string;
}

/**
 * What releasing one parked notification came to. 'SKIPPED' and 'BUSY' send nothing and leave
 * it parked; 'BUSY': its webhook is at its concurrency cap.
 */
export type ReleaseOutcome = 'SENT' | 'FAILED' | 'WAITING' | 'SKIPPED' | 'BUSY';

export interface ReleaseOptions {
  /** The circuit's probe: a failure keeps it parked. */
  readonly probe: boolean;
  /** A rate-limit slot reserved for it: it starts at the slot, or stays parked ('SKIPPED'). */
  readonly slot?: number;
  /** Checked once the slot has come: true leaves it parked ('SKIPPED'). */
  readonly stopped?: () => boolean;
}

/** The part of the delivery engine the driver uses. */
export interface ParkedNotifications {
  /** One attempt of a parked notification (a probe keeps it parked when it fails). */
  release(notificationId: string, opts: ReleaseOptions): Promise<ReleaseOutcome>;
  /** Ends a parked notification without an attempt. */
  settleParked(notificationId: string, reason: FailureReason): Promise<void>;
  /** The most requests in flight to the webhook at once (its maxConcurrency); none if absent. */
  capOf?(definition: WebhookDefinition): number;
}

export interface HealthDriverDeps {
  readonly store: HealthStore;
  readonly gate: HealthGate;
  readonly notifications: NotificationStore;
  readonly webhooks: WebhookStore;
  readonly parked: ParkedNotifications;
  readonly scheduler: HealthDriverScheduler;
  readonly clock: Clock;
  readonly settings: HealthSettings;
  readonly observer: HealthObserver;
}

/**
 * A release step's send budget: no send starts later than this after the step began, and
 * rate-limit slots are reserved no further ahead. With the sender's total timeout (15 s) and the
 * record writes after it, a step ends well inside the attempt Lambda's 30 s even when the
 * receiver answers slowly; what was not started waits for the next step, which follows at once.
 */
export const STEP_SEND_BUDGET_MS = 10_000;
const WAITING_COUNT_CAP = 10_000;
const STEP_RETRY_MS = 5_000;
/** Gauges (open circuit, waiting per reason) at least this often while a driver runs. */
export const HEARTBEAT_MS = 5 * 60_000;

export class HealthDriver {
  private readonly lastHeartbeat = new Map<string, number>();

  constructor(private readonly deps: HealthDriverDeps) {}

  /**
   * One step. An error (a throttled table, a lost race) does not fail the execution, which
   * would leave what waits without a driver: the step is tried again a few seconds later.
   */
  async step(input: HealthDriverInput): Promise<HealthDriverOutput> {
    try {
      return await this.stepOnce(input);
    } catch (error) {
      this.deps.observer.stepFailed(input.webhookId, error);
      return this.wake(
        input,
        new Date(this.deps.clock.now().getTime() + STEP_RETRY_MS).toISOString(),
      );
    }
  }

  private async stepOnce(input: HealthDriverInput): Promise<HealthDriverOutput> {
    const { store, gate, settings, clock, webhooks } = this.deps;
    const now = clock.now();
    let record = await store.get(input.webhookId);
    if (!record?.driverRunning || record.driverSeq !== input.seq) return this.done(input);
    // A sign of life, so a park does not take this driver for dead (see driverLeaseMs).
    const lastBeat = record.driverBeatAt === null ? 0 : Date.parse(record.driverBeatAt);
    if (now.getTime() - lastBeat >= settings.driverBeatIntervalMs) {
      if (!(await store.beat(input.webhookId, input.seq, now))) return this.done(input);
      record = { ...record, driverBeatAt: now.toISOString() };
    }
    gate.remember(record, input.webhookId);
    if (input.steps >= settings.stepsPerExecution) return this.handOver(input, record);
    const next = { ...input, steps: input.steps + 1 };
    await this.heartbeat(input.webhookId, record, false);

    const definition = await webhooks.get(input.webhookId);
    if (!definition?.enabled) return this.settlePage(next, record);
    if (record.paused) return this.end(next, record);

    if (record.state === 'OPEN') {
      if (autoDisableDue(record, now, settings)) return this.disable(next, record, definition);
      if (record.nextProbeAt !== null && Date.parse(record.nextProbeAt) > now.getTime())
        return this.wake(next, record.nextProbeAt);
      return this.probe(next, record, definition);
    }
    if (record.slowUntil !== null && Date.parse(record.slowUntil) > now.getTime())
      return this.wake(next, record.slowUntil);
    return this.releasePage(next, record, definition);
  }

  private async probe(
    input: HealthDriverInput,
    record: HealthRecord,
    definition: WebhookDefinition,
  ): Promise<HealthDriverOutput> {
    const { notifications, parked, gate, store, clock, settings } = this.deps;
    const [oldest] = await notifications.listParked(input.webhookId, 1);
    if (oldest === undefined) {
      // Nothing to probe with: the next live notification is the probe.
      const halfOpen: HealthRecord = {
        ...record,
        state: 'HALF_OPEN',
        since: sinceOf(record, clock.now()),
      };
      if (!(await store.transition(halfOpen, record.version))) return this.wake(input);
      return this.end(input, { ...halfOpen, version: record.version + 1 });
    }
    // The probe is a request like any other for the rate limit: it takes a slot.
    let slot: number | undefined;
    if (definition.rateLimitPerSecond !== undefined) {
      slot = await gate.reserveSlot(definition, STEP_SEND_BUDGET_MS);
      if (slot === undefined) return this.wake(input, this.inOneSecond());
    }
    const outcome = await parked.release(oldest, { probe: true, slot });
    if (outcome === 'SKIPPED' || outcome === 'BUSY') return this.wake(input);
    const after = (await gate.current(input.webhookId, true)) ?? record;
    if (outcome === 'SENT') {
      await gate.close(input.webhookId);
      return this.wake(input);
    }
    if (after.state !== 'OPEN') return this.wake(input);
    const cooldown = nextCooldown(after.cooldownSeconds, settings);
    const nextProbeAt = afterSeconds(clock.now(), cooldown, settings.timeScale);
    if (
      !(await store.transition({ ...after, cooldownSeconds: cooldown, nextProbeAt }, after.version))
    )
      return this.wake(input);
    gate.forget(input.webhookId);
    return this.wake(input, nextProbeAt);
  }

  private async releasePage(
    input: HealthDriverInput,
    record: HealthRecord,
    definition: WebhookDefinition,
  ): Promise<HealthDriverOutput> {
    const { notifications, parked, gate, settings, observer, clock } = this.deps;
    const startBy = clock.now().getTime() + STEP_SEND_BUDGET_MS;
    const ids = await notifications.listParked(input.webhookId, settings.releasePageSize);
    if (ids.length === 0) return this.end(input, record);
    let stop = false;
    let released = 0;
    const limit = definition.rateLimitPerSecond;
    // Slots for the whole page at once (one shared write), within this step's send budget.
    const slots =
      limit === undefined
        ? undefined
        : await gate.reserveSlots(definition, STEP_SEND_BUDGET_MS, ids.length);
    if (slots !== undefined && slots.length === 0) return this.wake(input, this.inOneSecond());
    const batch = slots === undefined ? ids : ids.slice(0, slots.length);
    // No more at once than the webhook's concurrency cap (which the releases pass as well).
    const concurrency = Math.max(
      1,
      Math.min(
        settings.releaseConcurrency,
        limit ?? Number.POSITIVE_INFINITY,
        parked.capOf?.(definition) ?? Number.POSITIVE_INFINITY,
      ),
    );
    let busy = false;
    await forEachBounded(batch, concurrency, async (id, index) => {
      // Out of budget: the rest waits for the next step (a slot left unused only sends less).
      if (stop || clock.now().getTime() >= startBy) return;
      // It waits for its slot after reading what it sends, so it starts on time for it.
      const outcome = await parked.release(id, {
        probe: false,
        slot: slots?.[index],
        stopped: () => stop,
      });
      if (outcome === 'BUSY') {
        // The cap is held by other requests (live deliveries): the rest waits with this one.
        busy = true;
        stop = true;
      } else if (outcome !== 'SKIPPED') released++;
      if (await gate.blocked(input.webhookId)) stop = true;
    });
    observer.released(input.webhookId, released);
    // Turned away at the cap with nothing sent: look again in a second, not in a tight loop.
    return this.wake(input, busy && released === 0 ? this.inOneSecond() : undefined);
  }

  private async settlePage(
    input: HealthDriverInput,
    record: HealthRecord,
  ): Promise<HealthDriverOutput> {
    const { notifications, parked, settings } = this.deps;
    const ids = await notifications.listParked(input.webhookId, settings.releasePageSize);
    if (ids.length === 0) {
      // Deliveries that read the record before the disable (cacheTtlMs) may still park PAUSED
      // without waking a driver: look again once no container can hold that record any more.
      const quiet =
        record.disabledAt === null
          ? 0
          : Date.parse(record.disabledAt) + settings.cacheTtlMs + settings.endGraceMs;
      if (this.deps.clock.now().getTime() < quiet)
        return this.wake(input, new Date(quiet).toISOString());
      return this.end(input, record);
    }
    await forEachBounded(ids, settings.releaseConcurrency, (id) =>
      parked.settleParked(id, 'WEBHOOK_DISABLED'),
    );
    return this.wake(input);
  }

  private async disable(
    input: HealthDriverInput,
    record: HealthRecord,
    definition: WebhookDefinition,
  ): Promise<HealthDriverOutput> {
    const { webhooks, store, clock, gate, observer } = this.deps;
    const now = clock.now().toISOString();
    if (
      !(await store.transition(
        { ...record, autoDisabled: true, disabledAt: record.disabledAt ?? now },
        record.version,
      ))
    )
      return this.wake(input);
    try {
      await webhooks.disable(definition.id, definition.version, now);
    } catch (err) {
      // Edited meanwhile: the next step looks again.
      if (!(err instanceof ConflictError)) throw err;
      return this.wake(input);
    }
    gate.forget(input.webhookId);
    observer.webhookDisabled(input.webhookId);
    await gate.publish(
      'platform.webhook.disabled',
      input.webhookId,
      { reason: 'AUTO_DISABLED', openedAt: record.openedAt },
      now,
    );
    return this.wake(input);
  }

  /** Ends the driver unless a notification was parked too recently to be seen in the index. */
  private async end(input: HealthDriverInput, record: HealthRecord): Promise<HealthDriverOutput> {
    const { clock, settings, store } = this.deps;
    const now = clock.now().getTime();
    const wanted = record.driverWantedAt === null ? 0 : Date.parse(record.driverWantedAt);
    if (now - wanted < settings.endGraceMs)
      return this.wake(input, new Date(wanted + settings.endGraceMs).toISOString());
    if (!(await store.transition({ ...record, driverRunning: false }, record.version)))
      return this.wake(input);
    this.deps.gate.forget(input.webhookId);
    await this.heartbeat(input.webhookId, record, true);
    return this.done(input);
  }

  /** A long-running driver hands over to a fresh execution before its history grows too long. */
  private async handOver(
    input: HealthDriverInput,
    record: HealthRecord,
  ): Promise<HealthDriverOutput> {
    const next: HealthRecord = {
      ...record,
      driverSeq: record.driverSeq + 1,
      driverBeatAt: this.deps.clock.now().toISOString(),
    };
    if (!(await this.deps.store.transition(next, record.version))) return this.wake(input);
    try {
      await this.deps.scheduler.startDriver({
        webhookId: input.webhookId,
        seq: next.driverSeq,
        steps: 0,
      });
    } catch (err) {
      // Not started: this execution stays the driver and tries again on its next step.
      await this.deps.store.transition(record, record.version + 1).catch(() => false);
      throw err;
    }
    return this.done(input);
  }

  private async heartbeat(webhookId: string, record: HealthRecord, force: boolean): Promise<void> {
    const now = this.deps.clock.now().getTime();
    if (!force && now - (this.lastHeartbeat.get(webhookId) ?? 0) < HEARTBEAT_MS) return;
    this.lastHeartbeat.set(webhookId, now);
    const waiting = await this.deps.notifications.countParked(webhookId, WAITING_COUNT_CAP);
    this.deps.observer.heartbeat(webhookId, { open: record.state === 'OPEN' && !force, waiting });
  }

  /** The next step: at `at` (default now), but never more than a heartbeat away. */
  private wake(input: HealthDriverInput, at?: string): HealthDriverOutput {
    const now = this.deps.clock.now().getTime();
    const wakeMs = Math.min(at === undefined ? now : Date.parse(at), now + HEARTBEAT_MS);
    return { ...input, done: false, wakeAt: new Date(wakeMs).toISOString() };
  }

  private inOneSecond(): string {
    return new Date(this.deps.clock.now().getTime() + 1000).toISOString();
  }

  private done(input: HealthDriverInput): HealthDriverOutput {
    return { ...input, done: true, wakeAt: this.deps.clock.now().toISOString() };
  }
}
