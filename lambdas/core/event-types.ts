/**
 * The event-type catalogue (GET /event-types): the types producers have published, when
 * first and last, and how many webhooks subscribe to each.
 *
 * Ingestion records what it accepted without costing a write per event: each container
 * writes a type at most once per minute (RECORD_INTERVAL_MS), so `lastSeenAt` is accurate to
 * about a minute. A catalogue write that fails never fails the ingest call (the events are
 * already queued); the type is written again by a later event.
 */
import type { Clock, EventTypeRecord, EventTypeStore, WebhookStore } from '../ports';
import { compareCodeUnits, type Page, pageWithinBudget } from './api/pages';
import { subscribesTo } from './subscriptions';

/** At most one catalogue write per type per this interval, per container. */
export const RECORD_INTERVAL_MS = 60_000;
/** Bound on the per-container memory of written types; the map starts over beyond it. */
const MAX_REMEMBERED_TYPES = 10_000;

export class EventTypeRecorder {
  private readonly lastWritten = new Map<string, number>();

  constructor(
    private readonly store: EventTypeStore,
    private readonly clock: Clock,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** Records the types of accepted events; resolves once the due writes are done (or failed). */
  async record(types: Iterable<string>): Promise<void> {
    const now = this.clock.now();
    const nowMs = now.getTime();
    const due: string[] = [];
    for (const type of new Set(types)) {
      const last = this.lastWritten.get(type);
      if (last !== undefined && nowMs - last < RECORD_INTERVAL_MS) continue;
      due.push(type);
    }
    if (due.length === 0) return;
    if (this.lastWritten.size + due.length > MAX_REMEMBERED_TYPES) this.lastWritten.clear();
    // Marked before the write: concurrent calls in this container do not write it twice.
    for (const type of due) this.lastWritten.set(type, nowMs);
    const seenAt = now.toISOString();
    await Promise.all(
      due.map((type) =>
        this.store.record(type, seenAt).catch((error: unknown) => {
          this.lastWritten.delete(type);
          this.onError(error);
        }),
      ),
    );
  }
}

export interface EventTypeView extends EventTypeRecord {
  /** Definitions whose events list the type or "*", enabled or not. */
  readonly webhooks: number;
}

export class EventTypeService {
  constructor(
    private readonly deps: {
      readonly eventTypes: EventTypeStore;
      readonly webhooks: Pick<WebhookStore, 'list'>;
    },
  ) {}

  /** Sorted by type, in pages bounded by size (api/pages.ts). */
  async list(cursor?: string): Promise<Page<EventTypeView>> {
    const [types, definitions] = await Promise.all([
      this.deps.eventTypes.list(),
      this.deps.webhooks.list(),
    ]);
    const items = types
      .map((t) => ({
        type: t.type,
        firstSeenAt: t.firstSeenAt,
        lastSeenAt: t.lastSeenAt,
        webhooks: definitions.filter((d) => subscribesTo(d.events, t.type)).length,
      }))
      .sort((a, b) => compareCodeUnits(a.type, b.type));
    return pageWithinBudget(items, (t) => [t.type], cursor);
  }
}
