/**
 * The ingest Lambda (POST /events): parse, match definitions (cached), enqueue one delivery
 * job per match, answer 202 with counts. Writes nothing to DynamoDB.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { createLogger } from '../adapters/observability';
import { METRIC_NAMES } from '../config';
import { CachedWebhookStore } from '../core/definition-cache';
import { EventTypeRecorder } from '../core/event-types';
import { IngestService } from '../core/ingest';
import type { Clock, DeliveryQueue, EventTypeStore, WebhookStore } from '../ports';
import { MAX_EVENTS_BODY_BYTES } from './http/limits';
import { rawBodyBytes, readJsonBody } from './http/request';
import { createHttpHandler, type HttpHandler, Router } from './http/router';

export interface IngestHandlerDeps {
  readonly stores: {
    readonly webhooks: WebhookStore;
    /** The event-type catalogue; types are not recorded without it. */
    readonly eventTypes?: EventTypeStore;
  };
  readonly queue: DeliveryQueue;
  readonly clock: Clock;
  /** definitionCacheTtlMs: how long matched definitions are cached (0 disables the cache). */
  readonly config: { readonly definitionCacheTtlMs: number };
  /** Default: the Powertools logger of lambdas/adapters/observability.ts. */
  readonly logger?: Pick<Logger, 'info' | 'error'>;
  /** EventsIngested (count of accepted events) is published per request when given. */
  readonly metrics?: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
}

export function createIngestRouter(deps: IngestHandlerDeps): Router {
  const webhooks = new CachedWebhookStore(
    deps.stores.webhooks,
    deps.config.definitionCacheTtlMs,
    deps.clock,
  );
  const logger = deps.logger ?? createLogger();
  const eventTypes = deps.stores.eventTypes
    ? new EventTypeRecorder(deps.stores.eventTypes, deps.clock, (error) =>
        logger.error('event-type catalogue write failed; a later event writes it again', {
          error,
        }),
      )
    : undefined;
  const ingest = new IngestService({ webhooks, queue: deps.queue, clock: deps.clock, eventTypes });
  return new Router().add('POST', '/events', async ({ event }) => {
    const input = readJsonBody(event, { maxBytes: MAX_EVENTS_BODY_BYTES });
    // A single event's 256 KiB apply to the body as sent, whitespace included.
    const result = await ingest.ingest(input, { bodyBytes: rawBodyBytes(event) });
    if (deps.metrics) {
      deps.metrics.addMetric(
        METRIC_NAMES.eventsIngested,
        MetricUnit.Count,
        result.batch ? result.events.length : 1,
      );
      deps.metrics.publishStoredMetrics();
    }
    const body = result.batch
      ? { events: result.events }
      : { eventId: result.eventId, notifications: result.notifications };
    return { status: 202, body };
  });
}

export function createIngestHandler(deps: IngestHandlerDeps): HttpHandler {
  return createHttpHandler(createIngestRouter(deps), { logger: deps.logger ?? createLogger() });
}
