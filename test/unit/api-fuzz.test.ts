/**
 * Bad input never becomes a 500: arbitrary bodies, templates and query strings sent to the
 * api and ingest handlers (memory stores) always get a 2xx or a 4xx with an error code.
 */
import fc from 'fast-check';
import { Renderer } from '../../lambdas/core/render';
import { createApiHandler } from '../../lambdas/handlers/api';
import { createIngestHandler } from '../../lambdas/handlers/ingest';
import { type ApiRequest, invoke } from '../support/apigw';
import {
  MemoryDeliveryQueue,
  MemoryEventTypeStore,
  MemoryHealthStore,
  MemoryNotificationStore,
  MemoryPayloadStore,
  MemoryResendJobStore,
  MemorySubjectKeyStore,
  MemoryWebhookStore,
} from '../support/memory-stores';

const errors: unknown[] = [];
const logger = { info: () => {}, error: (...args: unknown[]) => errors.push(args) };
const webhooks = new MemoryWebhookStore();
const queue = new MemoryDeliveryQueue();
const clock = { now: () => new Date('2026-11-28T12:00:00Z') };
const api = createApiHandler({
  stores: {
    webhooks,
    notifications: new MemoryNotificationStore(),
    payloads: new MemoryPayloadStore(),
    resendJobs: new MemoryResendJobStore(),
    eventTypes: new MemoryEventTypeStore(),
    subjectKeys: new MemorySubjectKeyStore(),
    health: new MemoryHealthStore(),
  },
  queue,
  renderer: new Renderer(),
  clock,
  config: { region: 'eu-central-1', senderIps: [] },
  logger,
});
const ingest = createIngestHandler({
  stores: { webhooks },
  queue,
  clock,
  config: { definitionCacheTtlMs: 0 },
  logger,
});

let hookId = '';
beforeAll(async () => {
  const res = await invoke(api, {
    method: 'POST',
    path: '/webhooks',
    body: {
      name: 'fuzz',
      events: ['*'],
      url: 'https://x.example/{{ data.a }}',
      body: '{"a": {{ data.a | json }}}',
    },
  });
  expect(res.status).toBe(201);
  hookId = res.body.id;
});

async function expectNo500(req: ApiRequest, handler = api): Promise<void> {
  const res = await invoke(handler, req);
  if (res.status >= 500 || errors.length > 0) {
    throw new Error(
      `${req.method} ${req.path} -> ${res.status} ${res.rawBody}\n${JSON.stringify(errors)}`,
    );
  }
  if (res.status >= 400) expect(typeof res.body.error.code).toBe('string');
}

const template = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '{{',
    '{%',
    '{{ data.a }}',
    '{{ data | json }}',
    '{% for x in data %}{{x}}{% endfor %}',
    '{{ "x" | nope }}',
  ),
  fc
    .array(fc.constantFrom('{{', '}}', '{%', '%}', 'data.a', '|', 'json', '"', 'https://', 'x'), {
      maxLength: 12,
    })
    .map((a) => a.join('')),
);
const definitionLike = fc.record(
  {
    name: fc.oneof(fc.string(), fc.jsonValue()),
    events: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), fc.constant(['*']), fc.jsonValue()),
    enabled: fc.oneof(fc.boolean(), fc.jsonValue()),
    method: fc.oneof(fc.constantFrom('POST', 'PUT', 'PATCH', 'GET'), fc.jsonValue()),
    url: fc.oneof(template, fc.constant('https://x.example/{{ data.a }}')),
    contentType: fc.oneof(
      fc.constantFrom('application/json', 'application/xml', 'text/plain'),
      fc.string(),
    ),
    headers: fc.oneof(fc.dictionary(fc.string(), template, { maxKeys: 3 }), fc.jsonValue()),
    body: template,
    strict: fc.oneof(fc.boolean(), fc.jsonValue()),
    auth: fc.oneof(
      fc.constant(null),
      fc.record(
        { type: fc.constantFrom('basic', 'x'), username: fc.string(), password: fc.string() },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    ),
    signingSecret: fc.oneof(
      fc.constantFrom('generate', 'whsec_***', null, 'whsec_AAAA'),
      fc.string(),
    ),
    version: fc.jsonValue(),
    id: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

describe('hostile input', () => {
  it('webhook definitions: create and replace', async () => {
    await fc.assert(
      fc.asyncProperty(definitionLike, async (body) => {
        await expectNo500({ method: 'POST', path: '/webhooks', body });
        await expectNo500({ method: 'PUT', path: `/webhooks/${hookId}`, body });
      }),
      { numRuns: 400 },
    );
  });

  it('raw bodies of any text, JSON or not', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string(), fc.json(), fc.string({ unit: 'binary' })),
        fc.boolean(),
        async (raw, base64) => {
          for (const path of [
            '/webhooks',
            `/webhooks/${hookId}/preview`,
            '/notifications/resend',
          ]) {
            await expectNo500({ method: 'POST', path, body: raw, base64 });
          }
          await expectNo500({ method: 'POST', path: '/events', body: raw, base64 }, ingest);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('events, previews and resends with arbitrary JSON', async () => {
    const eventLike = fc.record(
      {
        type: fc.oneof(fc.string(), fc.jsonValue()),
        id: fc.oneof(fc.string(), fc.jsonValue()),
        occurredAt: fc.oneof(
          fc.string(),
          fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toISOString())),
        ),
        data: fc.oneof(fc.object(), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        eventLike,
        fc.array(eventLike, { maxLength: 4 }),
        fc.jsonValue(),
        async (event, events, other) => {
          await expectNo500({ method: 'POST', path: '/events', body: event }, ingest);
          await expectNo500({ method: 'POST', path: '/events', body: { events } }, ingest);
          await expectNo500({ method: 'POST', path: `/webhooks/${hookId}/preview`, body: event });
          await expectNo500({ method: 'POST', path: '/notifications/resend', body: other });
          await expectNo500({
            method: 'POST',
            path: '/notifications/resend',
            body: { ids: other },
          });
          await expectNo500({
            method: 'POST',
            path: '/notifications/resend',
            body: { from: other, to: event.occurredAt },
          });
        },
      ),
      { numRuns: 300 },
    );
    queue.drain();
  });

  it('paths and query strings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string(),
        fc.string(),
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
        async (segment, query, method) => {
          await expectNo500({ method: 'GET', path: `/notifications?${query}` });
          await expectNo500({
            method: 'GET',
            path: `/notifications?cursor=${encodeURIComponent(segment)}`,
          });
          await expectNo500({ method, path: `/webhooks/${encodeURIComponent(segment)}` });
          await expectNo500({ method, path: `/notifications/${segment}` });
        },
      ),
      { numRuns: 300 },
    );
  });
});
