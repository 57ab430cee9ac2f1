/**
 * Operational events (README "Operational events"): the platform tells operators about
 * its own state changes (a circuit opened or closed, a webhook disabled, a notification
 * failed for good) by publishing events into its own pipeline. They are matched against the
 * definitions exactly as producer events are (lambdas/core/subscriptions.ts) and queued as
 * delivery jobs, so they are rendered, signed, retried and recorded like any notification.
 *
 * No loops: an occurrence caused by an operational delivery publishes nothing (the caller
 * says so with `causedByOperational`, and a webhook subscribed only to `platform.*` events is
 * recognised from its subscriptions), and an event about webhook W is never delivered to W.
 */
import type {
  Clock,
  DeliveryQueue,
  OperationalEventOptions,
  OperationalEventPublisher,
  OperationalEventResult,
  OperationalEventSubject,
  WebhookStore,
} from '../ports';
import { operationalEventIdFor } from './ids';
import { jobsForEvent } from './matching';
import type { EventEnvelope } from './model';
import { onlyOperational, type PlatformEventType } from './subscriptions';

export interface OperationalEventsDeps {
  /** Read through the definitions cache (CachedWebhookStore): only list() is used. */
  readonly webhooks: Pick<WebhookStore, 'list'>;
  readonly queue: DeliveryQueue;
  readonly clock: Clock;
}

export class OperationalEvents implements OperationalEventPublisher {
  constructor(private readonly deps: OperationalEventsDeps) {}

  async publish(
    type: PlatformEventType,
    about: OperationalEventSubject,
    data: Readonly<Record<string, unknown>> = {},
    options: OperationalEventOptions = {},
  ): Promise<OperationalEventResult> {
    if (options.causedByOperational || onlyOperational(about.events ?? [])) {
      return { eventId: undefined, notifications: 0 };
    }
    const now = this.deps.clock.now();
    const event: EventEnvelope = {
      id: operationalEventIdFor(type, about.id, options.key ?? now.toISOString()),
      type,
      occurredAt: now.toISOString(),
      // webhookId and webhookName last: data cannot claim another webhook.
      data: { ...data, webhookId: about.id, webhookName: about.name },
    };
    const definitions = await this.deps.webhooks.list();
    const jobs = jobsForEvent(definitions, event);
    if (jobs.length > 0) await this.deps.queue.enqueue(jobs);
    return { eventId: event.id, notifications: jobs.length };
  }
}
