/**
 * POST /events through the ingest handler (API Gateway v2 events): definitions in DynamoDB
 * Local, delivery jobs read back from the fauxqs queue.
 */
import { notificationIdFor } from '../../lambdas/core/ids';
import type { DeliveryJob } from '../../lambdas/core/model';
import {
  LAMBDA_INVOCATION_LIMIT_BYTES,
  MAX_EVENTS_BODY_BYTES,
} from '../../lambdas/handlers/http/limits';
import { apiHandlerFor, drainQueue, ingestHandlerFor } from '../support/api-harness';
import { apiGatewayEvent, client } from '../support/apigw';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();

const queued = () => drainQueue(standIns().clients.sqs, standIns().queueUrl);

interface Hooks {
  loans: string;
  all: string;
  disabled: string;
  orders: string;
}

let hooks: Hooks;

beforeAll(async () => {
  const api = client(apiHandlerFor(standIns()).handler);
  const make = async (name: string, events: string[], enabled = true) => {
    const res = await api.post('/webhooks', {
      name,
      events,
      enabled,
      url: 'https://receiver.example/{{ event.type }}',
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  hooks = {
    loans: await make('loans', ['LOAN_DISBURSEMENT', 'LOAN_REPAID']),
    all: await make('all', ['*']),
    disabled: await make('disabled', ['LOAN_DISBURSEMENT'], false),
    orders: await make('orders', ['ORDER_PLACED']),
  };
});

afterEach(async () => {
  await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0);
});

function byWebhook(jobs: DeliveryJob[]) {
  return [...jobs].sort((a, b) =>
    a.kind === 'deliver' && b.kind === 'deliver' ? a.webhookId.localeCompare(b.webhookId) : 0,
  );
}

describe('publishing one event', () => {
  it('queues one deliver job per enabled matching webhook and answers 202 with the count', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const event = { type: 'LOAN_DISBURSEMENT', data: { loanId: 'L-1', amount: 100 } };
    const res = await api.post('/events', event);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ eventId: expect.stringMatching(/^evt_/), notifications: 2 });
    const eventId = res.body.eventId as string;

    const jobs = await queued();
    const expected = [hooks.loans, hooks.all].map((webhookId) => ({
      kind: 'deliver',
      notificationId: notificationIdFor(webhookId, eventId),
      webhookId,
      webhookVersion: 1,
      event: {
        id: eventId,
        type: 'LOAN_DISBURSEMENT',
        occurredAt: expect.any(String),
        data: event.data,
      },
    }));
    expect(byWebhook(jobs)).toEqual(byWebhook(expected as DeliveryJob[]));
    const occurredAt = (jobs[0] as Extract<DeliveryJob, { kind: 'deliver' }>).event.occurredAt;
    expect(new Date(occurredAt).toISOString()).toBe(occurredAt);
  });

  it('maps a repeated producer id to the same notifications', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const event = {
      type: 'ORDER_PLACED',
      id: 'order-77',
      occurredAt: '2026-11-28T09:00:00+01:00',
      data: { n: 1 },
    };
    const first = await api.post('/events', event);
    const second = await api.post('/events', event);
    expect(first.body).toEqual({ eventId: 'order-77', notifications: 2 });
    expect(second.body).toEqual(first.body);
    const jobs = (await queued()) as Extract<DeliveryJob, { kind: 'deliver' }>[];
    expect(jobs).toHaveLength(4);
    const ids = new Set(jobs.map((j) => j.notificationId));
    expect(ids).toEqual(
      new Set([
        notificationIdFor(hooks.orders, 'order-77'),
        notificationIdFor(hooks.all, 'order-77'),
      ]),
    );
    expect(jobs[0]!.event.occurredAt).toBe('2026-11-28T08:00:00.000Z');
  });

  it('answers 202 with 0 notifications and queues nothing when no webhook matches... except "*"', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const res = await api.post('/events', { type: 'NOBODY_CARES', data: {} });
    expect(res.body.notifications).toBe(1);
    const jobs = (await queued()) as Extract<DeliveryJob, { kind: 'deliver' }>[];
    expect(jobs.map((j) => j.webhookId)).toEqual([hooks.all]);
  });

  it('refuses an invalid event with 400 naming the fields, and queues nothing', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const res = await api.post('/events', { type: '', occurredAt: 'soon', data: 'x', extra: 1 });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'data',
      'extra',
      'occurredAt',
      'type',
    ]);
    expect(await queued()).toEqual([]);
  });

  it('answers 413 for an event over 256 KiB', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const res = await api.post('/events', {
      type: 'LOAN_REPAID',
      data: { blob: 'x'.repeat(256 * 1024) },
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await queued()).toEqual([]);
  });

  it('queues an event of exactly 256 KiB with its delivery envelope, for every matching webhook', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const event = { type: 'LOAN_REPAID', data: { blob: '' } };
    event.data.blob = 'x'.repeat(256 * 1024 - Buffer.byteLength(JSON.stringify(event)));
    expect(Buffer.byteLength(JSON.stringify(event))).toBe(256 * 1024);
    const res = await api.post('/events', event);
    expect(res.status).toBe(202);
    const jobs = await queued();
    expect(jobs.length).toBe(res.body.notifications);
    expect(jobs.length).toBeGreaterThan(0);
  });

  it('measures a single event by its body as sent: whitespace and escapes count', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const compact = JSON.stringify({ type: 'LOAN_REPAID', data: { loanId: 'L-9' } });
    const padded = (bytes: number) =>
      `${compact.slice(0, -1)}${' '.repeat(bytes - compact.length)}}`;
    const escaped = `{"type":"LOAN_REPAID","data":{"s":"${'\\u0041'.repeat(44_000)}"}}`;
    expect(Buffer.byteLength(padded(256 * 1024 + 1))).toBe(262_145);
    expect(Buffer.byteLength(escaped)).toBeGreaterThan(256 * 1024);

    const over = await api.post('/events', padded(256 * 1024 + 1));
    const overBase64 = await api.post('/events', padded(256 * 1024 + 1), { base64: true });
    const overEscaped = await api.post('/events', escaped);
    const exact = await api.post('/events', padded(256 * 1024));
    // Base64 (as API Gateway hands over binary media types) is measured once decoded.
    const exactBase64 = await api.post('/events', padded(256 * 1024), { base64: true });

    for (const res of [over, overBase64, overEscaped]) {
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    }
    expect(over.body.error.message).toContain('262145 bytes');
    expect(overBase64.body.error.message).toContain('262145 bytes');
    expect(exact.status).toBe(202);
    expect(exactBase64.status).toBe(202);
    expect(await queued()).toHaveLength(4);
  });

  it('keeps measuring each event of a batch by its JSON text; the whole batch body is bounded at 3 MB', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const event = JSON.stringify({ type: 'LOAN_REPAID', data: { loanId: 'L-10' } });
    const spaced = `${event.slice(0, -1)}${' '.repeat(300 * 1024)}}`;

    const res = await api.post('/events', `{"events":[${spaced},${spaced}]}`);
    const huge = await api.post('/events', `{"events":[${event}]${' '.repeat(5 * 1024 * 1024)}}`);

    expect(res.status).toBe(202);
    expect(res.body.events).toHaveLength(2);
    expect(await queued()).toHaveLength(4);
    expect(huge.status).toBe(413);
    expect(huge.body.error.message).toMatch(/3000000 bytes/);
  });

  it('accepts an event just under 256 KiB', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const res = await api.post('/events', {
      type: 'LOAN_REPAID',
      data: { blob: 'x'.repeat(250 * 1024) },
    });
    expect(res.status).toBe(202);
    expect((await queued()).length).toBe(2);
  });
});

describe('publishing a batch', () => {
  it('answers per event and queues every (event, webhook) pair', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const res = await api.post('/events', {
      events: [
        { type: 'LOAN_DISBURSEMENT', id: 'b-1', data: { i: 1 } },
        { type: 'ORDER_PLACED', id: 'b-2', data: { i: 2 } },
        { type: 'UNKNOWN', id: 'b-3', data: { i: 3 } },
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      events: [
        { eventId: 'b-1', notifications: 2 },
        { eventId: 'b-2', notifications: 2 },
        { eventId: 'b-3', notifications: 1 },
      ],
    });
    const jobs = (await queued()) as Extract<DeliveryJob, { kind: 'deliver' }>[];
    const pairs = jobs.map((j) => `${j.event.id}>${j.webhookId}`).sort();
    expect(pairs).toEqual(
      [
        `b-1>${hooks.loans}`,
        `b-1>${hooks.all}`,
        `b-2>${hooks.orders}`,
        `b-2>${hooks.all}`,
        `b-3>${hooks.all}`,
      ].sort(),
    );
    for (const j of jobs) expect(j.notificationId).toBe(notificationIdFor(j.webhookId, j.event.id));
  });

  it('queues 100 events of one batch (more than one SendMessageBatch)', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const events = Array.from({ length: 100 }, (_, i) => ({
      type: 'ORDER_PLACED',
      id: `many-${i}`,
      data: { i },
    }));
    const res = await api.post('/events', { events });
    expect(res.status).toBe(202);
    expect(res.body.events).toHaveLength(100);
    expect(await queued()).toHaveLength(200);
  });

  it('a batch whose queueing failed half-way and is posted again creates no second notification of any (event, webhook)', async () => {
    // Fault injection: SQS throttles the second SendMessageBatch (a stand-in never does).
    const s = standIns();
    let sends = 0;
    const sqs = new Proxy(s.clients.sqs, {
      get(target, prop, receiver) {
        if (prop !== 'send') return Reflect.get(target, prop, receiver);
        return (command: { constructor: { name: string } }, ...rest: unknown[]) => {
          if (command.constructor.name === 'SendMessageBatchCommand' && ++sends === 2)
            return Promise.reject(
              Object.assign(new Error('Request is throttled.'), {
                name: 'RequestThrottled',
                $metadata: { httpStatusCode: 400 },
              }),
            );
          return (target.send as (...a: unknown[]) => unknown).call(target, command, ...rest);
        };
      },
    });
    const api = client(ingestHandlerFor({ ...s, clients: { ...s.clients, sqs } }).handler);
    const events = Array.from({ length: 20 }, (_, i) => ({
      type: 'ORDER_PLACED',
      id: `half-${i}`,
      data: { i },
    }));

    const failed = await api.post('/events', { events });
    const partly = (await queued()) as Extract<DeliveryJob, { kind: 'deliver' }>[];
    const retried = await api.post('/events', { events });
    const all = (await queued()) as Extract<DeliveryJob, { kind: 'deliver' }>[];

    // Throttled, not broken: 503 THROTTLED asks the producer to repeat the POST.
    expect(failed.status).toBe(503);
    expect(failed.body.error.code).toBe('THROTTLED');
    expect(failed.headers['retry-after']).toBe('1');
    expect(partly.length).toBeGreaterThan(0);
    expect(partly.length).toBeLessThan(40);
    expect(retried.status).toBe(202);
    expect(retried.body.events.map((e: { eventId: string }) => e.eventId)).toEqual(
      events.map((e) => e.id),
    );
    expect(all).toHaveLength(40);
    const expected = events.flatMap((e) => [
      notificationIdFor(hooks.orders, e.id),
      notificationIdFor(hooks.all, e.id),
    ]);
    expect(new Set(all.map((j) => j.notificationId))).toEqual(new Set(expected));
    // What the failed post queued are copies of jobs of the retried one: the delivery path
    // stores one request per notification id and records its attempts once.
    const retriedIds = new Set(all.map((j) => j.notificationId));
    for (const j of partly) expect(retriedIds.has(j.notificationId)).toBe(true);
  });

  it('refuses the whole batch when one event is bad, naming its index, and queues nothing', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const res = await api.post('/events', {
      events: [
        { type: 'LOAN_DISBURSEMENT', data: {} },
        { type: 'LOAN_DISBURSEMENT', data: {} },
        { type: 'LOAN_DISBURSEMENT', data: null },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([
      { index: 2, path: 'events[2].data', message: expect.any(String) },
    ]);
    expect(await queued()).toEqual([]);
  });

  it('refuses a batch with an event over 256 KiB with 413 naming its index, and queues nothing', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const res = await api.post('/events', {
      events: [
        { type: 'ORDER_PLACED', data: {} },
        { type: 'ORDER_PLACED', data: { blob: 'y'.repeat(257 * 1024) } },
      ],
    });
    expect(res.status).toBe(413);
    expect(res.body.error.details[0]).toMatchObject({ index: 1 });
    expect(await queued()).toEqual([]);
  });

  it('refuses more than 100 events, an empty batch, and a body over 3 MB', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const tooMany = await api.post('/events', {
      events: Array.from({ length: 101 }, () => ({ type: 'T', data: {} })),
    });
    expect(tooMany.status).toBe(400);
    const empty = await api.post('/events', { events: [] });
    expect(empty.status).toBe(400);
    const huge = await api.post('/events', {
      events: Array.from({ length: 24 }, () => ({
        type: 'T',
        data: { blob: 'z'.repeat(240 * 1024) },
      })),
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error.message).toMatch(/3000000 bytes/);
    expect(await queued()).toEqual([]);
  });
});

describe('the largest POST /events body', () => {
  it('fits, as the Lambda invocation carries it (escaped), under Lambda 6 MB with room for headers', async () => {
    // The worst case for escaping: a batch of quote-heavy strings, one byte short of the limit.
    const events = Array.from({ length: 100 }, (_, i) => ({
      type: 'LOAN_REPAID',
      data: { q: '"'.repeat(14_000), i },
    }));
    let body = JSON.stringify({ events });
    const perEvent = Math.floor((MAX_EVENTS_BODY_BYTES - body.length) / 2 / 100);
    body = JSON.stringify({
      events: events.map((e) => ({ ...e, data: { ...e.data, q: '"'.repeat(14_000 + perEvent) } })),
    });
    body = `${body.slice(0, -1)}${' '.repeat(MAX_EVENTS_BODY_BYTES - body.length)}}`;
    expect(body.length).toBe(MAX_EVENTS_BODY_BYTES);
    const invocation = apiGatewayEvent({
      method: 'POST',
      path: '/events',
      body,
      // Headers at API Gateway's own limit of 10 KiB (request line included).
      headers: { 'x-padding': 'p'.repeat(10 * 1024) },
    });
    const size = Buffer.byteLength(JSON.stringify(invocation));
    expect(size).toBeGreaterThan(1.9 * MAX_EVENTS_BODY_BYTES);
    expect(size).toBeLessThan(LAMBDA_INVOCATION_LIMIT_BYTES);

    // And the handler takes it.
    const api = client(ingestHandlerFor(standIns()).handler);
    const res = await api.post('/events', body);
    expect(res.status).toBe(202);
    expect(res.body.events).toHaveLength(100);
  });
});

describe('the edge of POST /events', () => {
  it('answers 415, INVALID_JSON, and 400 for __proto__ keys and deep nesting; queues nothing', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const text = await api.post('/events', 'type=x', { contentType: 'text/plain' });
    expect(text.status).toBe(415);
    const broken = await api.post('/events', '{"type": "X", "data": {');
    expect(broken).toMatchObject({ status: 400, body: { error: { code: 'INVALID_JSON' } } });
    const proto = await api.post('/events', '{"type":"ORDER_PLACED","data":{"__proto__":{"x":1}}}');
    expect(proto.status).toBe(400);
    expect(proto.body.error.details[0].path).toBe('data.__proto__');
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const nested = await api.post('/events', { type: 'ORDER_PLACED', data: deep });
    expect(nested.status).toBe(400);
    const surrogate = await api.post('/events', '{"type":"ORDER_PLACED","data":{"s":"\\udc00"}}');
    expect(surrogate.status).toBe(400);
    expect(await queued()).toEqual([]);
  });

  it('accepts a base64-encoded body and refuses one that is not UTF-8', async () => {
    const ingest = ingestHandlerFor(standIns()).handler;
    const api = client(ingest);
    const ok = await api.post(
      '/events',
      { type: 'ORDER_PLACED', data: { s: 'ü' } },
      { base64: true },
    );
    expect(ok.status).toBe(202);
    const jobs = (await queued()) as Extract<DeliveryJob, { kind: 'deliver' }>[];
    expect(jobs[0]!.event.data).toEqual({ s: 'ü' });
    const event = apiGatewayEvent({ method: 'POST', path: '/events', body: 'x', base64: true });
    event.body = Buffer.from([0x7b, 0xc3, 0x28, 0x7d]).toString('base64');
    const bad = await ingest(event);
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body!).error.code).toBe('INVALID_JSON');
  });

  it('answers 405 for another method and 404 for another path', async () => {
    const api = client(ingestHandlerFor(standIns()).handler);
    const get = await api.get('/events');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect((await api.get('/webhooks')).status).toBe(404);
  });
});

describe('the definition cache', () => {
  it('matches a new webhook on the very next event, well within DEFINITION_CACHE_TTL_SECONDS', async () => {
    const ingest = ingestHandlerFor(standIns(), { definitionCacheTtlMs: 30_000 });
    const api = client(ingest.handler);
    const event = { type: 'INVOICE_SENT', data: {} };
    expect((await api.post('/events', event)).body.notifications).toBe(1);

    const created = await client(apiHandlerFor(standIns()).handler).post('/webhooks', {
      name: 'invoices',
      events: ['INVOICE_SENT'],
      url: 'https://receiver.example/i',
    });
    expect((await api.post('/events', event)).body.notifications).toBe(2);
    ingest.clock.advance(31_000);
    expect((await api.post('/events', event)).body.notifications).toBe(2);
    await client(apiHandlerFor(standIns()).handler).delete(`/webhooks/${created.body.id}`);
  });
});
