/**
 * The health routes: GET /webhooks/{id}/health, POST /webhooks/{id}/pause|resume.
 * Pause and resume are transitions of the health record; resume also re-enables an
 * auto-disabled webhook, closes the circuit and asks the delivery side (through the queue, the
 * API starts no executions) to run the webhook's driver, which releases what waits, paced.
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
        ...r,
        paused: false,
        autoDisabled: false,
        state: 'CLOSED',
        since: r.paused || r.state !== 'CLOSED' || r.autoDisabled ? this.now() : r.since,
        consecutiveFailures: 0,
        openedAt: null,
        cooldownSeconds: 0,
        nextProbeAt: null,
        slowUntil: null,
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

  private async update(
    webhookId: string,
    change: (record: HealthRecord) => HealthRecord | undefined,
  ): Promise<HealthRecord> {
    for (let tries = 0; tries < TRANSITION_TRIES; tries++) {
      const current =
        (await this.deps.store.get(webhookId)) ?? initialHealth(webhookId, this.deps.clock.now());
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
      since: state === 'DISABLED' && !record.autoDisabled ? definition.updatedAt : record.since,
      consecutiveFailures: record.consecutiveFailures,
      recent: { ...recent, windowSeconds: RECENT_WINDOW_SECONDS },
      waiting: waiting.CIRCUIT_OPEN + waiting.PAUSED + waiting.RATE_LIMITED,
      nextProbeAt: record.state === 'OPEN' ? record.nextProbeAt : null,
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
