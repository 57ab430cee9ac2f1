/**
 * Ingestion (POST /events): validate the event or batch, match enabled definitions (type,
 * then conditions; read through the definitions cache, which checks the definitions revision
 * on every call so a saved definition applies to the next event), and
 * enqueue one DeliveryJob per (event, matching webhook). Nothing about the events is written
 * to DynamoDB here (the delivery Lambda renders and records); only the event-type catalogue,
 * at most once per type per minute. A batch is validated in full before anything is
 * enqueued, so a bad event leaves the queue untouched.
 */

import type { Clock, DeliveryQueue, WebhookStore } from '../ports';
import { type ErrorDetail, PayloadTooLargeError } from './errors';
import type { EventTypeRecorder } from './event-types';
import { parseEvents, refuseReservedTypes } from './events';
import { jobsForEvent } from './matching';
import type { DeliveryJob } from './model';
import { queueJsonBytes } from './queue-json';
import { required } from './required';

/** What one SQS message (and one SendMessageBatch) holds: 1 MiB since SQS raised it from 256 KiB. */
export const MAX_QUEUE_MESSAGE_BYTES = 1024 * 1024;

/**
 * Room a deliver job keeps for what the delivery adds when it puts the job back (`deferrals`
 * at a webhook's cap, `awaitedFirst`): a job queued at the limit could not be queued again.
 */
export const REQUEUE_HEADROOM_BYTES = 64;

/**
 * The most one POST /events may queue in all (each event once per matching webhook): what the
 * ingest Lambda (512 MB, 10 s) makes and sends well within its time. Above, a 413 before
 * anything is queued, rather than a request cut off halfway.
 */
export const MAX_FANOUT_BYTES = 32 * 1024 * 1024;

export interface IngestedEvent {
  readonly eventId: string;
  /** Enabled webhooks that match the event: its type, and their conditions. */
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
  /** Records accepted types in the event-type catalogue (at most one write per type per minute). */
  readonly eventTypes?: EventTypeRecorder;
}

export class IngestService {
  constructor(private readonly deps: IngestDeps) {}

  /**
   * `bodyBytes`: the size of the request body as sent; a single event is measured by it (a
   * batch's events each by their JSON text, the whole body being bounded at the edge).
   */
  async ingest(body: unknown, opts: { readonly bodyBytes?: number } = {}): Promise<IngestResult> {
    const { batch, events } = parseEvents(body, this.deps.clock.now(), opts);
    refuseReservedTypes(events, batch);
    const definitions = (await this.deps.webhooks.list()).filter((d) => d.enabled);
    const jobs: DeliveryJob[] = [];
    // The same producer id twice in one batch maps to the same notifications: queue them once.
    const queued = new Set<string>();
    const tooLarge: ErrorDetail[] = [];
    let fanOutBytes = 0;
    const results = events.map((event, index): IngestedEvent => {
      const matching = jobsForEvent(definitions, event);
      const first = matching[0];
      // A queue message holds at most 1 MiB, counted on the text SQS receives (toQueueJson:
      // escapes make an astral character 12 bytes instead of 4). An event of 256 KiB fits
      // with its envelope even so; re-serialising can still grow a single event past its
      // body's size (`1e20` is written out in full), and the limits may move: hence the
      // check. Jobs of one event differ only in fixed-length ids and the version.
      const size = first ? queueJsonBytes(first) : 0;
      if (size + REQUEUE_HEADROOM_BYTES > MAX_QUEUE_MESSAGE_BYTES) {
        tooLarge.push({
          index,
          path: batch ? `events[${index}]` : '',
          message: `event is ${size} bytes with its delivery envelope, a queue message holds ${MAX_QUEUE_MESSAGE_BYTES} (${REQUEUE_HEADROOM_BYTES} of them kept for the delivery's own fields)`,
        });
      }
      for (const job of matching) {
        if (queued.has(job.notificationId)) continue;
        queued.add(job.notificationId);
        jobs.push(job);
        fanOutBytes += size;
      }
      return { eventId: event.id, notifications: matching.length };
    });
    if (tooLarge.length > 0) {
      throw new PayloadTooLargeError(
        `An event is too large to queue: with its delivery envelope it must stay within ${MAX_QUEUE_MESSAGE_BYTES - REQUEUE_HEADROOM_BYTES} bytes`,
        batch ? tooLarge : tooLarge.map(({ message }) => ({ message })),
      );
    }
    if (fanOutBytes > MAX_FANOUT_BYTES) {
      throw new PayloadTooLargeError(
        `These events make ${jobs.length} deliveries of ${fanOutBytes} bytes in all (each event once per matching webhook); one request may queue at most ${MAX_FANOUT_BYTES}: send fewer or smaller events per request`,
      );
    }
    if (jobs.length > 0) await this.deps.queue.enqueue(jobs);
    // After the events are queued: only accepted types enter the catalogue; never throws.
    await this.deps.eventTypes?.record(events.map((e) => e.type));
    if (batch) return { batch: true, events: results };
    return { batch: false, ...required(results[0], 'the result of a single event') };
  }
}
