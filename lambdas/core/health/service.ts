/**
 * The health routes: GET /webhooks/{id}/health, POST /webhooks/{id}/pause|resume.
 * Pause and resume are transitions of the health record; resume also re-enables an
 * auto-disabled webhook, closes the circuit and asks the delivery side (through the queue, the
 * API starts no executions) to run the webhook's driver, which releases what waits, paced.
 * The definition routes tell it of a disable, re-enable or delete (definitionSaved,
 * definitionDeleted): a disabled or deleted webhook's driver settles what waits.
 */
import type {
  Clock,
  DeliveryQueue,
  HealthStore,
  NotificationStore,
  WebhookStore,
} from '../../ports';
import { NotFoundError } from '../errors';
import type { WebhookDefinition } from '../model';
import {
  type DisabledReason,
  type HealthRecord,
  type HealthState,
  healthStateOf,
  initialHealth,
  reenabledHealth,
} from './model';

export const RECENT_WINDOW_SECONDS = 300;
/** Parked notifications counted per index shard for `waiting` (a bigger backlog shows as at least this). */
export const WAITING_COUNT_CAP = 100_000;
const TRANSITION_TRIES = 5;

export interface HealthView {
  readonly state: HealthState;
  readonly since: string;
  readonly consecutiveFailures: number;
  readonly recent: {
    readonly sent: number;
    readonly failed: number;
    readonly windowSeconds: number;
  };
  readonly waiting: number;
  readonly nextProbeAt: string | null;
  readonly disabledReason: DisabledReason | null;
}

export interface HealthServiceDeps {
  readonly store: HealthStore;
  readonly webhooks: WebhookStore;
  readonly notifications: NotificationStore;
  readonly queue: DeliveryQueue;
  readonly clock: Clock;
}

export class HealthService {
  constructor(private readonly deps: HealthServiceDeps) {}

  async get(webhookId: string): Promise<HealthView> {
    const definition = await this.definition(webhookId);
    return this.view(definition, await this.deps.store.get(webhookId));
  }

  async pause(webhookId: string): Promise<HealthView> {
    const definition = await this.definition(webhookId);
    const record = await this.update(webhookId, (r) =>
      r.paused ? undefined : { ...r, paused: true, since: this.now() },
    );
    return this.view(definition, record);
  }

  async resume(webhookId: string): Promise<HealthView> {
    let definition = await this.definition(webhookId);
    let wasAutoDisabled = false;
    const record = await this.update(webhookId, (r) => {
      wasAutoDisabled = r.autoDisabled;
      return {
        ...reenabledHealth(r, this.deps.clock.now()),
        paused: false,
        // A webhook disabled by its definition stays so, and keeps when that began.
        disabledAt: definition.enabled || r.autoDisabled ? null : r.disabledAt,
        since: r.paused || r.state !== 'CLOSED' || r.autoDisabled ? this.now() : r.since,
      };
    });
    // Only an auto-disabled webhook is re-enabled here; one disabled by its definition stays so.
    if (!definition.enabled && wasAutoDisabled) {
      const enabled: WebhookDefinition = {
        ...definition,
        enabled: true,
        version: definition.version + 1,
        updatedAt: this.now(),
      };
      await this.deps.webhooks.put(enabled, definition.version);
      definition = enabled;
    }
    await this.deps.queue.enqueue([{ kind: 'health', webhookId }]);
    return this.view(definition, record);
  }

  /**
   * After a definition was replaced. Disabled: see stopped. Enabled again (or edited after
   * an auto-disable): a fresh circuit, as on resume; a pause stays until resume lifts it.
   * Every step is a no-op when already done, so repeating the PUT completes a lost one.
   */
  async definitionSaved(definition: WebhookDefinition): Promise<void> {
    // The change's own instant, so the health dates DISABLED (or what follows) from the PUT.
    const at = definition.updatedAt;
    if (!definition.enabled) return this.stopped(definition.id, at, 'disabled');
    // One read when nothing is to change (the common edit): no record, or one not disabled.
    await this.update(
      definition.id,
      (r) =>
        r.disabledAt === null && !r.autoDisabled ? undefined : reenabledHealth(r, new Date(at)),
      false,
    );
  }

  /** After a definition was deleted, and on every repeated DELETE of it: see stopped. */
  async definitionDeleted(webhookId: string): Promise<void> {
    return this.stopped(webhookId, this.now(), 'deleted');
  }

  /**
   * The webhook was disabled or deleted: notes when on its record, and has its driver (through
   * the queue, as resume) settle what waits FAILED (WEBHOOK_DISABLED), whatever it waits for.
   * Without this a paused webhook's notifications would wait forever: no driver runs while
   * paused. A paused webhook gets its driver even when nothing waits yet, for the deliveries
   * that still park it PAUSED (see HealthDriver's settle step); others start it themselves.
   * A repeated disable adds nothing; a repeated DELETE asks for a paused webhook's driver
   * again, so retrying a DELETE that failed after the definition went completes it.
   */
  private async stopped(
    webhookId: string,
    at: string,
    change: 'disabled' | 'deleted',
  ): Promise<void> {
    let marked = false;
    const record = await this.update(
      webhookId,
      (r) => {
        if (r.disabledAt !== null) return undefined;
        marked = true;
        return { ...r, disabledAt: at };
      },
      change === 'disabled',
    );
    const waiting = await this.deps.notifications.countParked(webhookId, 1);
    const anyWaiting = waiting.CIRCUIT_OPEN + waiting.PAUSED + waiting.RATE_LIMITED > 0;
    if (anyWaiting || (record?.paused && (marked || change === 'deleted')))
      await this.deps.queue.enqueue([{ kind: 'health', webhookId }]);
  }

  /** Applies `change` to the record (a fresh one unless `create` is false) until it sticks. */
  private async update(
    webhookId: string,
    change: (record: HealthRecord) => HealthRecord | undefined,
    create = true,
  ): Promise<HealthRecord | undefined> {
    for (let tries = 0; tries < TRANSITION_TRIES; tries++) {
      const stored = await this.deps.store.get(webhookId);
      if (!stored && !create) return undefined;
      const current = stored ?? initialHealth(webhookId, this.deps.clock.now());
      const next = change(current);
      if (next === undefined) return current;
      if (await this.deps.store.transition(next, current.version))
        return { ...next, version: current.version + 1 };
    }
    throw new Error(`health of webhook ${webhookId} kept changing; try again`);
  }

  private async view(
    definition: WebhookDefinition,
    stored: HealthRecord | undefined,
  ): Promise<HealthView> {
    const now = this.deps.clock.now();
    const record = stored ?? initialHealth(definition.id, new Date(definition.createdAt));
    const [recent, waiting] = await Promise.all([
      this.deps.store.readCounts(
        definition.id,
        new Date(now.getTime() - RECENT_WINDOW_SECONDS * 1000),
        now,
      ),
      this.deps.notifications.countParked(definition.id, WAITING_COUNT_CAP),
    ]);
    const { state, disabledReason } = healthStateOf(record, definition.enabled);
    return {
      state,
      since: state === 'DISABLED' ? disabledSince(record, definition) : record.since,
      consecutiveFailures: record.consecutiveFailures,
      recent: { ...recent, windowSeconds: RECENT_WINDOW_SECONDS },
      waiting: waiting.CIRCUIT_OPEN + waiting.PAUSED + waiting.RATE_LIMITED,
      // Only an open circuit has a probe coming; paused or disabled, no driver probes.
      nextProbeAt: state === 'OPEN' ? record.nextProbeAt : null,
      disabledReason,
    };
  }

  private async definition(webhookId: string): Promise<WebhookDefinition> {
    const definition = await this.deps.webhooks.get(webhookId);
    if (!definition) throw new NotFoundError(`webhook ${webhookId} not found`);
    return definition;
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }
}

/**
 * When a disabled webhook was disabled. Records written before disabledAt existed: the
 * auto-disable's transition, else the definition's last change.
 */
function disabledSince(record: HealthRecord, definition: WebhookDefinition): string {
  if (record.disabledAt !== null) return record.disabledAt;
  return record.autoDisabled ? record.since : definition.updatedAt;
}
