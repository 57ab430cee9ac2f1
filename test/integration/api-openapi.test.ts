/**
 * docs/openapi.yaml matches the handlers: every route the routers serve is documented, every
 * response the handlers give (success and error) validates against the documented schema for
 * its path, method and status, and every documented status is exercised here. The CDK route
 * list (API Gateway) is held equal to the routers too.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { notificationIdFor } from '../../lambdas/core/ids';
import { createApiRouter } from '../../lambdas/handlers/api';
import { createIngestRouter } from '../../lambdas/handlers/ingest';
import type { WebhookStore } from '../../lambdas/ports';
import { API_ROUTES } from '../../lib/constructs/api';
import { apiHandlerFor, drainQueue, ingestHandlerFor, storesFor } from '../support/api-harness';
import { type ApiRequest, type ApiResponse, client, invoke } from '../support/apigw';
import { useStandIns } from '../support/standins';

type Doc = {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: unknown }>; requestBody?: unknown }>
  >;
};
const doc = parse(readFileSync(path.join(__dirname, '../../docs/openapi.yaml'), 'utf8')) as Doc;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...doc, $id: 'openapi.json' });

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

const standIns = useStandIns();
const observed = new Set<string>();

function validate(ref: string, value: unknown): void {
  const check = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
  if (!check(value)) {
    throw new Error(
      `${ref}\n${JSON.stringify(value, null, 1).slice(0, 2000)}\n${ajv.errorsText(check.errors)}`,
    );
  }
}

/** Calls a handler and checks the request (on success) and the response against the document. */
async function call(
  handler: Parameters<typeof invoke>[0],
  template: string,
  req: ApiRequest,
): Promise<ApiResponse> {
  const res = await invoke(handler, req);
  const method = req.method.toLowerCase();
  const operation = doc.paths[template]?.[method];
  if (!operation) throw new Error(`${req.method} ${template} is not documented`);
  const documented = operation.responses[String(res.status)];
  if (!documented)
    throw new Error(`${req.method} ${template} answered ${res.status}, which is not documented`);
  observed.add(`${method} ${template} ${res.status}`);
  const base = `openapi.json#/paths/${pointer(template)}/${method}/responses/${res.status}`;
  if (documented.content === undefined) {
    expect(res.rawBody).toBeUndefined();
  } else {
    expect(res.headers['content-type']).toBe('application/json');
    // Component responses are $refs: resolve them through the document.
    validate(`${base}/content/application~1json/schema`, res.body);
  }
  if (
    res.status < 300 &&
    operation.requestBody &&
    req.body !== undefined &&
    typeof req.body !== 'string'
  ) {
    validate(
      `openapi.json#/paths/${pointer(template)}/${method}/requestBody/content/application~1json/schema`,
      req.body,
    );
  }
  return res;
}

/** Dereferences `responses: { '400': { $ref } }` so the pointers above land on a schema. */
beforeAll(() => {
  const components = (doc as unknown as { components: { responses: Record<string, unknown> } })
    .components.responses;
  for (const ops of Object.values(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!METHODS.includes(method)) continue;
      for (const [status, response] of Object.entries(op.responses)) {
        const ref = (response as { $ref?: string }).$ref;
        if (ref) op.responses[status] = components[ref.split('/').pop()!] as { content?: unknown };
      }
    }
  }
  ajv.removeSchema('openapi.json');
  ajv.addSchema({ ...doc, $id: 'openapi.json' });
});

const ledger = {
  name: 'Ledger',
  events: ['LOAN_DISBURSEMENT'],
  url: 'https://ledger.example.com/loans/{{ data.loanId }}',
  headers: { 'X-Branch': '{{ data.branch }}' },
  body: '{"loan": {{ data.loanId | json }}, "amount": {{ data.amount }}}',
  auth: { type: 'basic', username: 'svc', password: 'secret-pw' },
  signingSecret: 'generate',
};

describe('the OpenAPI description', () => {
  it('documents exactly the routes the api and ingest routers serve', () => {
    const deps = apiHandlerFor(standIns()).deps;
    const served = [
      ...createApiRouter(deps).routeList,
      ...createIngestRouter({ ...deps, config: { definitionCacheTtlMs: 0 } }).routeList,
    ].map((r) => `${r.method.toLowerCase()} ${r.pattern}`);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops)
        .filter((m) => METHODS.includes(m))
        .map((m) => `${m} ${p}`),
    );
    expect(served.sort()).toEqual(documented.sort());
  });

  it('routes in API Gateway exactly what each router serves, to the Lambda of that router', () => {
    const deps = apiHandlerFor(standIns()).deps;
    const served = [
      ...createApiRouter(deps).routeList.map((r) => `${r.method} ${r.pattern} -> api`),
      ...createIngestRouter({ ...deps, config: { definitionCacheTtlMs: 0 } }).routeList.map(
        (r) => `${r.method} ${r.pattern} -> ingest`,
      ),
    ];
    const routed = API_ROUTES.map((r) => `${r.method} ${r.path} -> ${r.target}`);
    expect(routed.sort()).toEqual(served.sort());
  });

  it('describes every response of every route', async () => {
    const { handler: apiHandler } = apiHandlerFor(standIns());
    const ingest = ingestHandlerFor(standIns(), { definitionCacheTtlMs: 0 }).handler;
    const stores = storesFor(standIns());

    // Other
    await call(apiHandler, '/health', { method: 'GET', path: '/health' });
    const reserved = await call(ingest, '/events', {
      method: 'POST',
      path: '/events',
      body: { type: 'platform.circuit.opened', data: {} },
    });
    expect(reserved.body.error.code).toBe('RESERVED_EVENT_TYPE');
    const types = await call(apiHandler, '/event-types', { method: 'GET', path: '/event-types' });
    expect(types.status).toBe(200);
    const badTypesCursor = await call(apiHandler, '/event-types', {
      method: 'GET',
      path: '/event-types?cursor=x',
    });
    expect(badTypesCursor.status).toBe(400);
    const badWebhooksCursor = await call(apiHandler, '/webhooks', {
      method: 'GET',
      path: '/webhooks?cursor=x',
    });
    expect(badWebhooksCursor.status).toBe(400);
    const ips = await call(apiHandler, '/sender-ips', { method: 'GET', path: '/sender-ips' });
    expect(ips.body).toEqual({ region: standIns().region, ips: ['203.0.113.10', '203.0.113.11'] });

    // Webhooks
    const created = await call(apiHandler, '/webhooks', {
      method: 'POST',
      path: '/webhooks',
      body: ledger,
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await call(apiHandler, '/webhooks', { method: 'POST', path: '/webhooks', body: { name: '' } });
    await call(apiHandler, '/webhooks', {
      method: 'POST',
      path: '/webhooks',
      body: { ...ledger, url: '{{ nope' },
    });
    await call(apiHandler, '/webhooks', {
      method: 'POST',
      path: '/webhooks',
      body: 'x',
      contentType: 'text/plain',
    });
    await call(apiHandler, '/webhooks', {
      method: 'POST',
      path: '/webhooks',
      body: { ...ledger, body: 'x'.repeat(300_000) },
    });
    await call(apiHandler, '/webhooks', { method: 'GET', path: '/webhooks' });
    await call(apiHandler, '/webhooks/{id}', { method: 'GET', path: `/webhooks/${id}` });
    await call(apiHandler, '/webhooks/{id}', { method: 'GET', path: '/webhooks/wh_none' });
    const got = await invoke(apiHandler, { method: 'GET', path: `/webhooks/${id}` });
    const replaced = await call(apiHandler, '/webhooks/{id}', {
      method: 'PUT',
      path: `/webhooks/${id}`,
      body: { ...got.body, enabled: true },
    });
    expect(replaced.status).toBe(200);
    await call(apiHandler, '/webhooks/{id}', {
      method: 'PUT',
      path: `/webhooks/${id}`,
      body: { ...got.body },
    });
    await call(apiHandler, '/webhooks/{id}', {
      method: 'PUT',
      path: `/webhooks/${id}`,
      body: { name: 1 },
    });
    await call(apiHandler, '/webhooks/{id}', {
      method: 'PUT',
      path: '/webhooks/wh_none',
      body: ledger,
    });
    await call(apiHandler, '/webhooks/{id}', {
      method: 'PUT',
      path: `/webhooks/${id}`,
      body: 'x',
      contentType: 'text/xml',
    });
    await call(apiHandler, '/webhooks/{id}', {
      method: 'PUT',
      path: `/webhooks/${id}`,
      body: { ...ledger, body: 'x'.repeat(300_000) },
    });
    const previewed = await call(apiHandler, '/webhooks/{id}/preview', {
      method: 'POST',
      path: `/webhooks/${id}/preview`,
      body: { type: 'LOAN_DISBURSEMENT', data: { loanId: 'L-1', branch: 'b', amount: 1 } },
    });
    expect(previewed.status).toBe(200);
    const conditional = await call(apiHandler, '/webhooks', {
      method: 'POST',
      path: '/webhooks',
      body: {
        ...ledger,
        conditions: { match: 'any', rules: [{ field: 'data.amount', op: 'in', value: [1, 2] }] },
      },
    });
    expect(conditional.status).toBe(201);
    const invalid = await call(apiHandler, '/webhooks', {
      method: 'POST',
      path: '/webhooks',
      body: {
        ...ledger,
        conditions: { match: 'any', rules: [{ field: 'x', op: 'in', value: 1 }] },
      },
    });
    expect(invalid.body.error.code).toBe('INVALID_CONDITIONS');
    await call(apiHandler, '/webhooks/{id}/preview', {
      method: 'POST',
      path: `/webhooks/${id}/preview`,
      body: { data: 1 },
    });
    await call(apiHandler, '/webhooks/{id}/preview', {
      method: 'POST',
      path: '/webhooks/wh_none/preview',
      body: {},
    });
    await call(apiHandler, '/webhooks/{id}/preview', {
      method: 'POST',
      path: `/webhooks/${id}/preview`,
      body: 'a',
      contentType: 'text/plain',
    });
    await call(apiHandler, '/webhooks/{id}/preview', {
      method: 'POST',
      path: `/webhooks/${id}/preview`,
      body: { data: { s: 'x'.repeat(300_000) } },
    });

    // Signing keys: rotation of a secret and of an ed25519 pair, and every refusal.
    const rotate = '/webhooks/{id}/signing-secrets/rotate';
    const hmac = await call(apiHandler, '/webhooks', {
      method: 'POST',
      path: '/webhooks',
      body: { ...ledger, events: ['KEYS_ONLY'], signingSecret: 'generate' },
    });
    const ed = await call(apiHandler, '/webhooks', {
      method: 'POST',
      path: '/webhooks',
      body: {
        ...ledger,
        events: ['KEYS_ONLY'],
        signingSecret: undefined,
        signing: { scheme: 'ed25519' },
      },
    });
    const unsigned = await call(apiHandler, '/webhooks', {
      method: 'POST',
      path: '/webhooks',
      body: { ...ledger, events: ['KEYS_ONLY'], signingSecret: null },
    });
    expect(ed.body.publicKey).toMatch(/^whpk_/);
    const rotatedSecret = await call(apiHandler, rotate, {
      method: 'POST',
      path: `/webhooks/${hmac.body.id}/signing-secrets/rotate`,
      body: { graceHours: 24 },
    });
    expect(rotatedSecret.body.secret).toMatch(/^whsec_/);
    const rotatedPair = await call(apiHandler, rotate, {
      method: 'POST',
      path: `/webhooks/${ed.body.id}/signing-secrets/rotate`,
    });
    expect(rotatedPair.body.publicKey).toMatch(/^whpk_/);
    await call(apiHandler, '/webhooks/{id}', { method: 'GET', path: `/webhooks/${ed.body.id}` });
    await call(apiHandler, rotate, {
      method: 'POST',
      path: `/webhooks/${hmac.body.id}/signing-secrets/rotate`,
      body: { graceHours: -1 },
    });
    await call(apiHandler, rotate, {
      method: 'POST',
      path: '/webhooks/wh_none/signing-secrets/rotate',
      body: {},
    });
    const refused = await call(apiHandler, rotate, {
      method: 'POST',
      path: `/webhooks/${unsigned.body.id}/signing-secrets/rotate`,
      body: {},
    });
    expect(refused.status).toBe(409);
    await call(apiHandler, rotate, {
      method: 'POST',
      path: `/webhooks/${id}/signing-secrets/rotate`,
      body: { graceHours: 'x'.repeat(300_000) },
    });
    await call(apiHandler, rotate, {
      method: 'POST',
      path: `/webhooks/${id}/signing-secrets/rotate`,
      body: 'x',
      contentType: 'text/plain',
    });

    // Producers
    const one = await call(ingest, '/events', {
      method: 'POST',
      path: '/events',
      body: { type: 'LOAN_DISBURSEMENT', id: 'oa-1', data: { loanId: 'L-1' } },
    });
    expect(one.body).toEqual({ eventId: 'oa-1', notifications: 1 });
    const batch = await call(ingest, '/events', {
      method: 'POST',
      path: '/events',
      body: {
        events: [
          { type: 'LOAN_DISBURSEMENT', data: {} },
          { type: 'OTHER', data: {} },
        ],
      },
    });
    expect(batch.body.events).toHaveLength(2);
    await call(ingest, '/events', {
      method: 'POST',
      path: '/events',
      body: { events: [{ type: 'A' }] },
    });
    await call(ingest, '/events', {
      method: 'POST',
      path: '/events',
      body: { type: 'A', data: { b: 'x'.repeat(270_000) } },
    });
    await call(ingest, '/events', {
      method: 'POST',
      path: '/events',
      body: '<xml/>',
      contentType: 'application/xml',
    });
    await drainQueue(standIns().clients.sqs, standIns().queueUrl);

    // Notifications (one seeded as the delivery Lambda records it)
    const ntf = notificationIdFor(id, 'oa-1');
    const { matches: _m, subscribed: _s, failedRules: _f, ...rendered } = previewed.body;
    expect(_m).toBe(true);
    await stores.payloads.putOnce(ntf, rendered, 2_000_000_000);
    await stores.notifications.create(
      {
        id: ntf,
        webhookId: id,
        eventId: 'oa-1',
        eventType: 'LOAN_DISBURSEMENT',
        createdAt: '2026-11-28T10:00:00.000Z',
        status: 'FAILED',
        failureReason: 'TIMEOUT',
        attempts: [
          {
            number: 1,
            trigger: 'initial',
            startedAt: '2026-11-28T10:00:00.010Z',
            durationMs: 15000,
            statusCode: null,
            outcome: 'FAILED',
            error: 'TIMEOUT',
            responseBody: null,
          },
        ],
        nextAttemptAt: null,
      },
      2_000_000_000,
    );
    const list = await call(apiHandler, '/notifications', {
      method: 'GET',
      path: `/notifications?webhookId=${id}&limit=1`,
    });
    expect(list.body.items).toHaveLength(1);
    await call(apiHandler, '/notifications', { method: 'GET', path: '/notifications?limit=1000' });
    const detail = await call(apiHandler, '/notifications/{id}', {
      method: 'GET',
      path: `/notifications/${ntf}`,
    });
    expect(detail.body.request).toEqual(rendered);
    await call(apiHandler, '/notifications/{id}', {
      method: 'GET',
      path: '/notifications/ntf_none',
    });
    await call(apiHandler, '/notifications/{id}/resend', {
      method: 'POST',
      path: `/notifications/${ntf}/resend`,
    });
    await call(apiHandler, '/notifications/{id}/resend', {
      method: 'POST',
      path: '/notifications/ntf_none/resend',
    });
    await call(apiHandler, '/notifications/{id}/resend', {
      method: 'POST',
      path: `/notifications/${ntf}/resend`,
      body: { force: true },
    });
    // Erasure by subject: the erased request in history, resend refused, a bad subject.
    const aboutSubject = notificationIdFor(id, 'oa-subject');
    // As delivery stores it: with the webhook's templates, whose URL names its host literally.
    const templates = await stores.webhooks.get(id);
    await stores.payloads.putOnce(
      aboutSubject,
      previewed.body,
      2_000_000_000,
      'client-oa',
      templates,
    );
    await stores.notifications.create(
      {
        id: aboutSubject,
        webhookId: id,
        eventId: 'oa-subject',
        eventType: 'LOAN_DISBURSEMENT',
        createdAt: '2026-11-28T10:00:01.000Z',
        status: 'SENT',
        failureReason: null,
        attempts: [],
        nextAttemptAt: null,
      },
      2_000_000_000,
    );
    const erased = await call(apiHandler, '/subjects/{subject}/erase', {
      method: 'POST',
      path: '/subjects/client-oa/erase',
    });
    expect(erased.status).toBe(202);
    await call(apiHandler, '/subjects/{subject}/erase', {
      method: 'POST',
      path: '/subjects/%01/erase',
    });
    const erasedDetail = await call(apiHandler, '/notifications/{id}', {
      method: 'GET',
      path: `/notifications/${aboutSubject}`,
    });
    expect(erasedDetail.body.request).toEqual({
      erased: true,
      method: 'POST',
      host: 'ledger.example.com',
    });
    const refusedResend = await call(apiHandler, '/notifications/{id}/resend', {
      method: 'POST',
      path: `/notifications/${aboutSubject}/resend`,
    });
    expect(refusedResend.body.error.code).toBe('ERASED');
    const byIds = await call(apiHandler, '/notifications/resend', {
      method: 'POST',
      path: '/notifications/resend',
      body: { ids: [ntf] },
    });
    const byRange = await call(apiHandler, '/notifications/resend', {
      method: 'POST',
      path: '/notifications/resend',
      body: {
        from: '2026-11-28T00:00:00Z',
        to: '2026-11-29T00:00:00Z',
        webhookId: id,
        status: 'FAILED',
      },
    });
    expect(byRange.body.count).toBe(1);
    await call(apiHandler, '/notifications/resend', {
      method: 'POST',
      path: '/notifications/resend',
      body: { ids: [] },
    });
    await call(apiHandler, '/notifications/resend', {
      method: 'POST',
      path: '/notifications/resend',
      body: { ids: ['ntf_none'] },
    });
    await call(apiHandler, '/notifications/resend', {
      method: 'POST',
      path: '/notifications/resend',
      body: 'x',
      contentType: 'text/csv',
    });
    await call(apiHandler, '/notifications/resend', {
      method: 'POST',
      path: '/notifications/resend',
      body: `{"ids": [${' '.repeat(300_000)}"${ntf}"]}`,
    });
    await call(apiHandler, '/notifications/resend/{jobId}', {
      method: 'GET',
      path: `/notifications/resend/${byIds.body.jobId}`,
    });
    await call(apiHandler, '/notifications/resend/{jobId}', {
      method: 'GET',
      path: '/notifications/resend/job_none',
    });
    await drainQueue(standIns().clients.sqs, standIns().queueUrl);

    for (const [method, route] of [
      ['GET', '/webhooks/{id}/health'],
      ['POST', '/webhooks/{id}/pause'],
      ['POST', '/webhooks/{id}/resume'],
    ] as const) {
      await call(apiHandler, route, { method, path: route.replace('{id}', id) });
      await call(apiHandler, route, { method, path: route.replace('{id}', 'wh_none') });
      if (method === 'POST') {
        const withInput = { method, path: route.replace('{id}', id), body: '[1]' };
        expect((await call(apiHandler, route, withInput)).status).toBe(400);
      }
    }
    await call(apiHandler, '/webhooks/{id}', {
      method: 'DELETE',
      path: `/webhooks/${id}`,
      body: { force: true },
    });
    await call(apiHandler, '/webhooks/{id}', { method: 'DELETE', path: `/webhooks/${id}` });
    await call(apiHandler, '/webhooks/{id}', { method: 'DELETE', path: `/webhooks/${id}` });

    // A fault on our side: 500 INTERNAL_ERROR, as documented, with nothing of the cause.
    const broken: WebhookStore = {
      get: async () => {
        throw new Error('ProvisionedThroughputExceededException: table webhooks');
      },
      list: async () => {
        throw new Error('ProvisionedThroughputExceededException: table webhooks');
      },
      put: async () => {},
      delete: async () => false,
      disable: async () => {},
      revision: async () => {
        throw new Error('ProvisionedThroughputExceededException: table webhooks');
      },
    };
    const faulty = apiHandlerFor(standIns(), {
      stores: { ...storesFor(standIns()), webhooks: broken },
    });
    const fault = await call(faulty.handler, '/webhooks', { method: 'GET', path: '/webhooks' });
    expect(fault.body).toEqual({
      error: { code: 'INTERNAL_ERROR', message: expect.any(String), details: [] },
    });
    expect(fault.rawBody).not.toContain('Provisioned');
    expect(faulty.logs.lines.some((l) => l.includes('Provisioned'))).toBe(true);

    // AWS throttling the platform's own calls on every try: 503 THROTTLED with Retry-After.
    const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400 },
    });
    const busy = apiHandlerFor(standIns(), {
      stores: {
        ...storesFor(standIns()),
        webhooks: {
          ...broken,
          list: async () => {
            throw throttled;
          },
        },
      },
    });
    const refusedBusy = await call(busy.handler, '/webhooks', { method: 'GET', path: '/webhooks' });
    expect(refusedBusy.status).toBe(503);
    expect(refusedBusy.headers['retry-after']).toBe('1');
    expect(refusedBusy.body).toEqual({
      error: { code: 'THROTTLED', message: expect.any(String), details: [] },
    });
    expect(refusedBusy.rawBody).not.toContain('throughput');

    // Unknown routes and methods answer with the documented error shape.
    const api = client(apiHandler);
    validate('openapi.json#/components/schemas/Error', (await api.get('/nothing')).body);
    validate('openapi.json#/components/schemas/Error', (await api.delete('/notifications')).body);

    const expected = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops)
        .filter(([m]) => METHODS.includes(m))
        .flatMap(([m, op]) =>
          Object.keys(op.responses)
            .filter(
              (status) => !['500', '503'].includes(status) || (m === 'get' && p === '/webhooks'),
            )
            .map((status) => `${m} ${p} ${status}`),
        ),
    );
    expect([...observed].sort()).toEqual(expected.sort());
  });
});
