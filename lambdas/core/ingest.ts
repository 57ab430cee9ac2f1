/**
 * Ingestion (POST /events): validate the event or batch, match enabled definitions (read
 * through a short-lived in-memory cache, DEFINITION_CACHE_TTL_SECONDS, default 30 s), and
 * enqueue one DeliveryJob per (event, matching webhook). Nothing is written to DynamoDB here:
 * the delivery Lambda renders and records. A batch is validated in full before anything is
 * enqueued, so a bad event leaves the queue untouched.
 */
import { definitionMatches, parseEvents } from './events';
import { notificationIdFor } from './ids';
import type { DeliveryJob } from './model';
import type { Clock, DeliveryQueue, WebhookStore } from '../ports';

export interface IngestedEvent {
  readonly eventId: string;
  /** Enabled webhooks that match the event's type. */
  readonly notifications: number;
}

export type IngestResult =
  | ({ readonly batch: false } & IngestedEvent)
  | { readonly batch: true; readonly events: readonly IngestedEvent[] };

export interface IngestDeps {
  /** Read through a cache (see CachedWebhookStore): only list() is used. */
  readonly webhooks: Pick<WebhookStore, 'list'>;
  readonly queue: DeliveryQueue;
  readonly clock: Clock;
}

export class IngestService {
  constructor(private readonly deps: IngestDeps) {}

  async ingest(body: unknown): Promise<IngestResult> {
    const { batch, events } = parseEvents(body, this.deps.clock.now());
    const definitions = (await this.deps.webhooks.list()).filter((d) => d.enabled);
    const jobs: DeliveryJob[] = [];
    // The same producer id twice in one batch maps to the same notifications: queue them once.
    const queued = new Set<string>();
    const results = events.map((event): IngestedEvent => {
      const matching = definitions.filter((d) => definitionMatches(d, event.type));
      for (const def of matching) {
        const notificationId = notificationIdFor(def.id, event.id);
        if (queued.has(notificationId)) continue;
        queued.add(notificationId);
        jobs.push({ kind: 'deliver', notificationId, webhookId: def.id, event });
      }
      return { eventId: event.id, notifications: matching.length };
    });
    if (jobs.length > 0) await this.deps.queue.enqueue(jobs);
    return batch ? { batch: true, events: results } : { batch: false, ...results[0]! };
  }
}
