/**
 * The api Lambda: webhook definitions, notifications (history, resend), sender IPs, health.
 * Thin: each route reads its input, calls one use case in lambdas/core/api, maps the result.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createLogger } from '../adapters/observability';
import { LIST_QUERY_PARAMS, NotificationService } from '../core/api/notifications';
import { SubjectService } from '../core/api/subjects';
import { WebhookService } from '../core/api/webhooks';
import { EventTypeService } from '../core/event-types';
import { HealthService } from '../core/health/service';
import type { Renderer } from '../core/render';
import type {
  Clock,
  DeliveryQueue,
  EventTypeStore,
  HealthStore,
  NotificationStore,
  PayloadStore,
  ResendJobStore,
  SubjectKeyStore,
  WebhookStore,
} from '../ports';
import { MAX_API_BODY_BYTES } from './http/limits';
import { readEmptyBody, readJsonBody, readQuery } from './http/request';
import { createHttpHandler, type HttpHandler, Router } from './http/router';

export interface ApiDeps {
  readonly stores: {
    readonly webhooks: WebhookStore;
    readonly notifications: NotificationStore;
    readonly payloads: PayloadStore;
    readonly resendJobs: ResendJobStore;
    readonly eventTypes: EventTypeStore;
    readonly subjectKeys: SubjectKeyStore;
    readonly health: HealthStore;
  };
  readonly queue: DeliveryQueue;
  readonly renderer: Renderer;
  readonly clock: Clock;
  readonly config: { readonly region: string; readonly senderIps: readonly string[] };
  /** Default: the Powertools logger of lambdas/adapters/observability.ts. */
  readonly logger?: Pick<Logger, 'info' | 'error'>;
}

/** Who called: the IAM principal on AWS; locally the holder of the API token. */
function callerOf(event: APIGatewayProxyEventV2): string {
  const authorizer = (
    event.requestContext as { authorizer?: { iam?: { userArn?: string } } } | undefined
  )?.authorizer;
  return authorizer?.iam?.userArn ?? 'api-token';
}

export function createApiRouter(deps: ApiDeps): Router {
  const subjects = new SubjectService({ subjectKeys: deps.stores.subjectKeys, clock: deps.clock });
  const health = new HealthService({
    store: deps.stores.health,
    webhooks: deps.stores.webhooks,
    notifications: deps.stores.notifications,
    queue: deps.queue,
    clock: deps.clock,
  });
  const webhooks = new WebhookService({
    webhooks: deps.stores.webhooks,
    renderer: deps.renderer,
    clock: deps.clock,
    health,
  });
  const eventTypes = new EventTypeService({
    eventTypes: deps.stores.eventTypes,
    webhooks: deps.stores.webhooks,
  });
  const notifications = new NotificationService({
    ...deps.stores,
    queue: deps.queue,
    clock: deps.clock,
  });
  const body = (event: APIGatewayProxyEventV2) =>
    readJsonBody(event, { maxBytes: MAX_API_BODY_BYTES });
  const optionalBody = (event: APIGatewayProxyEventV2) =>
    readJsonBody(event, { maxBytes: MAX_API_BODY_BYTES, optional: true });
  const noInput = (event: APIGatewayProxyEventV2) => readEmptyBody(event, MAX_API_BODY_BYTES);

  return (
    new Router()
      .add('GET', '/health', async () => ({ status: 200, body: { status: 'ok' } }))
      .add('GET', '/sender-ips', async () => ({
        status: 200,
        body: { region: deps.config.region, ips: [...deps.config.senderIps] },
      }))
      .add('GET', '/webhooks', async ({ event }) => ({
        status: 200,
        body: await webhooks.list(readQuery(event, ['cursor']).cursor),
      }))
      .add('POST', '/webhooks', async ({ event }) => {
        const created = await webhooks.create(body(event));
        return {
          status: 201,
          body: created,
          headers: { location: `/webhooks/${encodeURIComponent(created.id)}` },
        };
      })
      .add('GET', '/webhooks/{id}', async ({ params }) => ({
        status: 200,
        body: await webhooks.get(params.id),
      }))
      .add('PUT', '/webhooks/{id}', async ({ event, params }) => ({
        status: 200,
        body: await webhooks.replace(params.id, body(event)),
      }))
      .add('DELETE', '/webhooks/{id}', async ({ event, params }) => {
        noInput(event);
        await webhooks.delete(params.id);
        return { status: 204 };
      })
      .add('POST', '/webhooks/{id}/signing-secrets/rotate', async ({ event, params }) => ({
        status: 200,
        body: await webhooks.rotateSigningKey(params.id, optionalBody(event)),
      }))
      .add('POST', '/webhooks/{id}/preview', async ({ event, params }) => ({
        status: 200,
        body: await webhooks.preview(params.id, optionalBody(event)),
      }))
      .add('GET', '/event-types', async ({ event }) => ({
        status: 200,
        body: await eventTypes.list(readQuery(event, ['cursor']).cursor),
      }))
      // A subject is a value producers chose, not an id: a too long one is a 400 naming the
      // limit events have (SubjectService), not a 404.
      .add(
        'POST',
        '/subjects/{subject}/erase',
        async ({ event, params }) => {
          noInput(event);
          return { status: 202, body: await subjects.erase(params.subject, callerOf(event)) };
        },
        { checksParamLength: true },
      )
      .add('GET', '/webhooks/{id}/health', async ({ params }) => ({
        status: 200,
        body: await health.get(params.id),
      }))
      .add('POST', '/webhooks/{id}/pause', async ({ event, params }) => {
        noInput(event);
        return { status: 200, body: await health.pause(params.id) };
      })
      .add('POST', '/webhooks/{id}/resume', async ({ event, params }) => {
        noInput(event);
        return { status: 200, body: await health.resume(params.id) };
      })
      .add('GET', '/notifications', async ({ event }) => ({
        status: 200,
        body: await notifications.list(readQuery(event, LIST_QUERY_PARAMS)),
      }))
      .add('GET', '/notifications/{id}', async ({ params }) => ({
        status: 200,
        body: await notifications.get(params.id),
      }))
      .add('POST', '/notifications/{id}/resend', async ({ event, params }) => {
        noInput(event);
        return { status: 202, body: await notifications.resendOne(params.id) };
      })
      .add('POST', '/notifications/resend', async ({ event }) => ({
        status: 202,
        body: await notifications.resendBulk(body(event)),
      }))
      .add('GET', '/notifications/resend/{jobId}', async ({ params }) => ({
        status: 200,
        body: await notifications.getJob(params.jobId),
      }))
  );
}

export function createApiHandler(deps: ApiDeps): HttpHandler {
  return createHttpHandler(createApiRouter(deps), { logger: deps.logger ?? createLogger() });
}
