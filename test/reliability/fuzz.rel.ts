/**
 * Bad input, generated: every route of the api and ingest handlers (real handlers, DynamoDB
 * Local and fauxqs behind them, API Gateway v2 events) gets property-based input: wrong types,
 * missing and unknown fields, huge strings, deep nesting, invalid UTF-8, `__proto__` and
 * `constructor` keys, hostile templates, junk paths, methods and query strings.
 *
 * Invariants for every case: never a 500 (nor a thrown handler), every error carries a code, and
 * nothing half-written: a refused create leaves the list unchanged, a refused replace leaves the
 * definition unchanged, a refused batch or resend enqueues nothing and records no resend job.
 * Where the contract (docs/openapi.yaml) fixes the answer, the property asserts exactly it: a
 * body that is not JSON by its Content-Type is 415 UNSUPPORTED_MEDIA_TYPE, a path no documented
 * route matches is 404 NOT_FOUND, a documented path asked with another method is 405
 * METHOD_NOT_ALLOWED with the documented methods in Allow, a routed request answers only a
 * status documented for its operation; an accepted resend enqueues exactly one job per
 * notification asked for (or one range job), records one resend job that the API then shows,
 * and leaves the history as it was.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parse } from 'yaml';
import { SqsDeliveryQueue } from '../../lambdas/adapters/sqs-queue';
import { notificationIdFor } from '../../lambdas/core/ids';
import type { DeliveryJob, Notification, NotificationStatus } from '../../lambdas/core/model';
import { Renderer } from '../../lambdas/core/render';
import { createApiHandler } from '../../lambdas/handlers/api';
import { createIngestHandler } from '../../lambdas/handlers/ingest';
import type { DeliveryQueue, ResendJob, ResendJobStore } from '../../lambdas/ports';
import { standInCipher } from '../../local/standins';
import { captureLogs, drainQueue, storesFor } from '../support/api-harness';
import {
  type ApiRequest,
  type ApiResponse,
  apiGatewayEvent,
  type Handler,
  invoke,
} from '../support/apigw';
import { webhookDefinition } from '../support/history';
import { useStandIns } from '../support/standins';
import { recordFigures } from './support/figures';
import {
  needlesOf,
  newSecrets,
  platformKeyNeedles,
  platformKeys,
  publicKeyOf,
  searchTexts,
} from './support/secrets';

const RUNS = Number(process.env.RELIABILITY_FUZZ_RUNS ?? 150);
const SEED = Number(process.env.RELIABILITY_FUZZ_SEED ?? 20261128);

/** A queue that records what it was asked to enqueue, in front of the real SQS adapter. */
class RecordingQueue implements DeliveryQueue {
  readonly jobs: DeliveryJob[] = [];
  get enqueued(): number {
    return this.jobs.length;
  }
  constructor(private readonly inner: DeliveryQueue) {}
  async enqueue(jobs: readonly DeliveryJob[]): Promise<void> {
    await this.inner.enqueue(jobs);
    this.jobs.push(...jobs);
  }
}

/** Counts the resend jobs the API records, in front of the real DynamoDB store. */
class CountingResendJobs implements ResendJobStore {
  created = 0;
  constructor(private readonly inner: ResendJobStore) {}
  async create(job: ResendJob): Promise<void> {
    await this.inner.create(job);
    this.created += 1;
  }
  get(jobId: string): Promise<ResendJob | undefined> {
    return this.inner.get(jobId);
  }
  increment(
    jobId: string,
    counters: Parameters<ResendJobStore['increment']>[1],
    once?: string,
  ): Promise<void> {
    return this.inner.increment(jobId, counters, once);
  }
}

/** The documented contract: paths, their methods and the statuses each operation answers. */
const OPENAPI = parse(readFileSync(path.resolve(__dirname, '../../docs/openapi.yaml'), 'utf8')) as {
  paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
};
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
/** Path parameters are documented as 1 to 256 characters. */
const MAX_PARAM_LENGTH = 256;
/** The ingest Lambda serves POST /events; the api Lambda every other documented path. */
const INGEST_PATHS = new Set(['/events']);

interface RouteOutcome {
  /** Documented paths the request path matches. */
  readonly templates: string[];
  /** Their methods (upper case, sorted): the Allow header of a 405. */
  readonly allow: string[];
  /** Statuses documented for the operation the request reaches, if it reaches one. */
  readonly statuses?: Set<number>;
}

/**
 * What the contract says a request gets from the routing alone: the documented paths its path
 * matches (a literal segment matches itself, a `{param}` one non-empty segment of at most 256
 * characters once decoded; one trailing slash is ignored), and the operation it reaches.
 */
function documentedRoute(method: string, rawPath: string, ingest: boolean): RouteOutcome {
  const trimmed = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  const actual = trimmed.split('/').slice(1);
  const templates = Object.keys(OPENAPI.paths).filter((template) => {
    if (INGEST_PATHS.has(template) !== ingest) return false;
    const pattern = template.split('/').slice(1);
    if (pattern.length !== actual.length) return false;
    return pattern.every((p, i) => {
      const a = actual[i]!;
      if (!p.startsWith('{')) return p === a;
      try {
        const decoded = decodeURIComponent(a);
        return decoded !== '' && decoded.length <= MAX_PARAM_LENGTH;
      } catch {
        return false;
      }
    });
  });
  const methodsOf = (t: string) =>
    Object.keys(OPENAPI.paths[t]!).filter((m) => HTTP_METHODS.includes(m));
  const allow = [...new Set(templates.flatMap(methodsOf).map((m) => m.toUpperCase()))].sort();
  // A literal segment beats a parameter (documented: /notifications/resend is not an id).
  const reached = templates
    .filter((t) => methodsOf(t).includes(method.toLowerCase()))
    .sort((a, b) => literalWeight(b) - literalWeight(a))[0];
  if (reached === undefined) return { templates, allow };
  const responses = OPENAPI.paths[reached]![method.toLowerCase()]!.responses ?? {};
  return { templates, allow, statuses: new Set(Object.keys(responses).map(Number)) };
}

function literalWeight(template: string): number {
  return template
    .split('/')
    .slice(1)
    .reduce((w, s, i) => w + (s.startsWith('{') ? 0 : 2 ** (16 - i)), 0);
}

/** The only code each of these statuses can carry (docs/openapi.yaml's table of codes). */
const CODE_OF_STATUS: Readonly<Record<number, string>> = {
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

const secrets = newSecrets('fuzz');

// Generated definitions subscribe to a type no generated event has, so accepted events enqueue
// one job each (for the reference webhook below, which takes '*'), not one per definition.
const VALID = {
  name: 'fuzz target',
  events: ['FUZZ_DEFINITIONS_ONLY'],
  enabled: true,
  method: 'POST',
  url: 'https://ledger.example.com/loans/{{ data.loanId }}',
  contentType: 'application/json',
  headers: { 'X-Branch': '{{ data.branch }}' },
  body: '{"loan": {{ data.loanId | json }}}',
  auth: { type: 'basic', username: secrets.username, password: secrets.password },
  signingSecret: secrets.signingSecret,
};
const FIELDS = Object.keys(VALID) as (keyof typeof VALID)[];
/** The reference webhook every event matches (created first; accepted replaces restore it). */
const REFERENCE = { ...VALID, events: ['*'], url: 'https://ledger.example.com/x' };

/**
 * History the resend cases resend: notifications and their stored requests as the delivery
 * Lambda writes them, one a minute from SEED_START, on two webhooks, FAILED and SENT alternating.
 */
const SEED_START = Date.parse('2026-11-20T10:00:00.000Z');
const SEED_COUNT = 8;
const SEED_WEBHOOKS = ['wh_FUZZSEEDAAAAAAAAAAAAAAAAAAA', 'wh_FUZZSEEDBBBBBBBBBBBBBBBBBBB'];
interface SeededNotification {
  readonly id: string;
  readonly webhookId: string;
  readonly status: NotificationStatus;
  readonly createdAt: string;
}
const SEEDED: readonly SeededNotification[] = Array.from({ length: SEED_COUNT }, (_, i) => {
  const webhookId = SEED_WEBHOOKS[i % 2]!;
  return {
    id: notificationIdFor(webhookId, `fuzz-evt-${i}`),
    webhookId,
    status: i % 3 === 0 ? 'SENT' : 'FAILED',
    createdAt: new Date(SEED_START + i * 60_000).toISOString(),
  };
});
const SEEDED_IDS = SEEDED.map((n) => n.id);
/** Every other seeded request is about this subject (stored sealed with its key). */
const SEED_SUBJECT = 'fuzz-client';
const isAboutSubject = (seed: SeededNotification) => SEEDED.indexOf(seed) % 2 === 0;

/** Templates that loop, nest, recurse, read files or render megabytes. */
const HOSTILE_TEMPLATES = [
  '{% for i in (1..100000000) %}x{% endfor %}',
  '{% for i in (1..100000) %}{% for j in (1..100000) %}{{ i }}{% endfor %}{% endfor %}',
  '{% for i in (1..200000) %}{{ "0123456789" }}{% endfor %}',
  '{% assign s = "x" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s }}',
  '{% capture c %}{% for i in (1..1000000) %}yy{% endfor %}{% endcapture %}{{ c }}',
  '{{ "x" | append: "x" | append: "x" }}{% for i in (1..9999999) %}{% endfor %}',
  "{% include 'body' %}",
  "{% render '/etc/passwd' %}",
  "{% layout 'x' %}",
  '{% raw %}{{ unterminated',
  '{{ data | json }}'.repeat(20000),
  // Deep tag nesting runs in a child process (see the probe test below): a stack overflow that
  // lands in V8's regexp compiler aborts the process, which would take the test runner with it.
  '{{ data.__proto__ }}{{ data.constructor.constructor }}{{ this }}',
  '{{ "a" | split: "" | join: "" | size | times: 99999999999 }}',
  '{% tablerow i in (1..1000000) %}{{ i }}{% endtablerow %}',
  '{% cycle "a" %}'.repeat(50000),
];

// ---- generators -----------------------------------------------------------------------------

const dangerousKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '__defineGetter__',
);
const hugeString = fc.integer({ min: 256 * 1024, max: 700 * 1024 }).map((n) => 'x'.repeat(n));
const anyJson = fc.jsonValue({ maxDepth: 4 });
const wrongType = fc.oneof(
  anyJson,
  hugeString,
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.constant(-1),
  fc.constant(1e308),
);

/** JSON text with a dangerous key spliced in at the top level (JSON.stringify cannot make `__proto__` keys). */
function withKey(base: Record<string, unknown>, key: string, value: unknown): string {
  const text = JSON.stringify(base);
  return `{${JSON.stringify(key)}:${JSON.stringify(value ?? null)}${text.length > 2 ? `,${text.slice(1)}` : '}'}`;
}

function deepNesting(depth: number, open: string, close: string): string {
  return `${open.repeat(depth)}1${close.repeat(depth)}`;
}

/** A raw body for the definition routes: text, as the client sends it. */
const definitionBody: fc.Arbitrary<string> = fc.oneof(
  anyJson.map((v) => JSON.stringify(v)),
  fc
    .record({ field: fc.constantFrom(...FIELDS), value: wrongType })
    .map(({ field, value }) => JSON.stringify({ ...VALID, [field]: value })),
  fc.constantFrom(...FIELDS).map((field) => {
    const { [field]: _dropped, ...rest } = VALID;
    return JSON.stringify(rest);
  }),
  fc
    .record({ key: fc.string({ maxLength: 20 }), value: anyJson })
    .map(({ key, value }) => JSON.stringify({ ...VALID, [`x-${key}`]: value })),
  fc
    .record({ key: dangerousKey, value: anyJson })
    .map(({ key, value }) => withKey(VALID, key, value)),
  fc
    .record({ key: dangerousKey, field: fc.constantFrom('headers', 'auth', 'data') })
    .map(({ key, field }) =>
      JSON.stringify({ ...VALID }).replace(
        `"${field === 'data' ? 'headers' : field}":{`,
        `"${field === 'data' ? 'headers' : field}":{${JSON.stringify(key)}:{"polluted":true},`,
      ),
    ),
  fc
    .record({
      field: fc.constantFrom('url', 'body', 'name'),
      template: fc.constantFrom(...HOSTILE_TEMPLATES),
    })
    .map(({ field, template }) => JSON.stringify({ ...VALID, [field]: template })),
  fc
    .constantFrom(...HOSTILE_TEMPLATES)
    .map((t) => JSON.stringify({ ...VALID, headers: { 'X-Loop': t } })),
  fc.integer({ min: 33, max: 5000 }).map((d) =>
    JSON.stringify({
      ...VALID,
      headers: JSON.parse(deepNesting(Math.min(d, 400), '{"a":', '}')),
    }),
  ),
  fc.integer({ min: 33, max: 100_000 }).map((d) => deepNesting(d, '[', ']')),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom(
    '',
    ' ',
    'null',
    'true',
    '[]',
    '"x"',
    '{',
    '{"name":',
    '\u0000',
    '{"a":1}{"b":2}',
    '\ufeff{}',
  ),
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: 40 })
    .map((s) => JSON.stringify({ ...VALID, name: s, url: `https://x.example/${s}` })),
);

const oneEvent = fc.oneof(
  fc.record({
    type: fc.constantFrom('LOAN_DISBURSEMENT', 'ORDER_PLACED'),
    data: fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 4 }),
  }),
  fc.record({ type: wrongType, data: wrongType }, { requiredKeys: [] }),
  fc.record({
    type: fc.constant('LOAN_DISBURSEMENT'),
    id: wrongType,
    occurredAt: fc.oneof(fc.string(), anyJson),
  }),
  fc.record({ type: fc.constant('LOAN_DISBURSEMENT'), data: hugeString.map((s) => ({ s })) }),
  anyJson,
);

const eventsBody: fc.Arbitrary<string> = fc.oneof(
  oneEvent.map((e) => JSON.stringify(e)),
  fc.array(oneEvent, { maxLength: 120 }).map((events) => JSON.stringify({ events })),
  // A good batch with one bad event somewhere: all or nothing.
  fc
    .record({
      good: fc.integer({ min: 1, max: 99 }),
      at: fc.nat(),
      bad: fc.constantFrom<unknown>(
        {},
        { type: '' },
        { type: 7 },
        { type: 'X', data: [] },
        null,
        'e',
      ),
    })
    .map(({ good, at, bad }) => {
      const events: unknown[] = Array.from({ length: good }, (_, i) => ({
        type: 'LOAN_DISBURSEMENT',
        data: { i },
      }));
      events.splice(at % (good + 1), 0, bad);
      return JSON.stringify({ events });
    }),
  fc
    .record({ key: dangerousKey, value: anyJson })
    .map(({ key, value }) => withKey({ type: 'LOAN_DISBURSEMENT', data: {} }, key, value)),
  fc
    .record({ key: dangerousKey })
    .map(
      ({ key }) => `{"type":"LOAN_DISBURSEMENT","data":{${JSON.stringify(key)}:{"isAdmin":true}}}`,
    ),
  fc
    .integer({ min: 33, max: 100_000 })
    .map((d) => `{"type":"LOAN_DISBURSEMENT","data":${deepNesting(d, '{"a":', '}')}}`),
  fc.integer({ min: 101, max: 300 }).map((n) =>
    JSON.stringify({
      events: Array.from({ length: n }, () => ({ type: 'LOAN_DISBURSEMENT', data: {} })),
    }),
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom(
    '',
    'null',
    '[]',
    '{"events":null}',
    '{"events":{}}',
    '{"events":[]}',
    '{"type":"A"}{"type":"B"}',
  ),
);

const segment = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }).map((s) => encodeURIComponent(s)),
  fc.constantFrom(
    '..',
    '.',
    '%2e%2e',
    '%2F',
    '%00',
    'wh_',
    'ntf_',
    'job_',
    'x'.repeat(5000),
    '%ZZ',
    '__proto__',
    'constructor',
  ),
);
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'FOO'];
const ROUTES = [
  'webhooks',
  'notifications',
  'notifications/resend',
  'events',
  'sender-ips',
  'health',
  'x',
];

const junkQuery = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'webhookId',
        'status',
        'eventType',
        'from',
        'to',
        'limit',
        'cursor',
        'x',
        '__proto__',
      ),
      fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom(
          '-1',
          '0',
          '101',
          '1e9',
          'NaN',
          'FAILED',
          'SENT',
          '2026-13-45',
          '9999-12-31T23:59:59Z',
          'x'.repeat(3000),
        ),
      ),
    ),
    { maxLength: 6 },
  )
  .map((pairs) =>
    pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'),
  );

const resendBody: fc.Arbitrary<string> = fc.oneof(
  anyJson.map((v) => JSON.stringify(v)),
  fc
    .array(fc.oneof(fc.string({ maxLength: 40 }), anyJson), { maxLength: 1200 })
    .map((ids) => JSON.stringify({ ids })),
  fc
    .record(
      {
        from: fc.oneof(fc.string(), anyJson),
        to: fc.oneof(fc.string(), anyJson),
        status: fc.oneof(fc.string(), anyJson),
        webhookId: fc.oneof(fc.string(), anyJson),
      },
      { requiredKeys: [] },
    )
    .map((b) => JSON.stringify(b)),
  fc.record({ key: dangerousKey }).map(({ key }) => withKey({ ids: [] }, key, { x: 1 })),
);

/** A resend body, and the status the contract gives it when the generator knows it. */
interface ResendCase {
  readonly body: string;
  readonly expected?: number;
}

const unknownId = fc
  .string({ minLength: 1, maxLength: 12 })
  .map((s) => notificationIdFor(SEED_WEBHOOKS[0]!, `not-seeded-${s}`));
const seedTime = fc
  .tuple(fc.integer({ min: -1, max: SEED_COUNT + 1 }), fc.constantFrom(0, 30_000))
  .map(([minute, offset]) => new Date(SEED_START + minute * 60_000 + offset).toISOString());

const resendCase: fc.Arbitrary<ResendCase> = fc.oneof(
  resendBody.map((body) => ({ body })),
  // Known ids only: one job per id.
  fc
    .shuffledSubarray(SEEDED_IDS, { minLength: 1 })
    .map((ids) => ({ body: JSON.stringify({ ids }), expected: 202 })),
  // Known and unknown ids: 404 naming the unknown ones, nothing queued.
  fc
    .tuple(
      fc.shuffledSubarray(SEEDED_IDS),
      fc.uniqueArray(unknownId, { minLength: 1, maxLength: 3 }),
      fc.nat(),
    )
    .map(([known, unknown, at]) => {
      const ids = [...known];
      for (const id of unknown) ids.splice(at % (ids.length + 1), 0, id);
      return { body: JSON.stringify({ ids }), expected: 404 };
    }),
  // A known id twice: 400, nothing queued.
  fc
    .constantFrom(...SEEDED_IDS)
    .map((id) => ({ body: JSON.stringify({ ids: [id, SEEDED_IDS[0], id] }), expected: 400 })),
  // Ranges over the seeded minutes: a job counting what matches (or 400 when empty/backwards).
  fc
    .record(
      {
        from: seedTime,
        to: seedTime,
        status: fc.constantFrom<NotificationStatus>('FAILED', 'SENT', 'QUEUED'),
        webhookId: fc.constantFrom(...SEED_WEBHOOKS, 'wh_FUZZNOSUCHWEBHOOKAAAAAAAAA'),
      },
      { requiredKeys: ['from', 'to'] },
    )
    .map((range) => ({
      body: JSON.stringify(range),
      expected: Date.parse(range.from) < Date.parse(range.to) ? 202 : 400,
    })),
);

/** The notifications a range resend matches (from inclusive, to exclusive; status FAILED by default). */
function seededInRange(range: {
  from: string;
  to: string;
  status?: string;
  webhookId?: string;
}): SeededNotification[] {
  const from = Date.parse(range.from.replace(' ', 'T'));
  const to = Date.parse(range.to.replace(' ', 'T'));
  return SEEDED.filter(
    (n) =>
      Date.parse(n.createdAt) >= from &&
      Date.parse(n.createdAt) < to &&
      n.status === (range.status ?? 'FAILED') &&
      (range.webhookId === undefined || n.webhookId === range.webhookId),
  );
}

// ---- the suite ---------------------------------------------------------------------------------

describe('fuzzed input on every route: 4xx with a code, never 500, nothing half-written', () => {
  const standIns = useStandIns({ prefix: 'fuzz-' });
  let api: Handler;
  let ingest: Handler;
  let queue: RecordingQueue;
  let resendJobs: CountingResendJobs;
  /** The seeded notifications as GET /notifications/{id} showed them before any resend. */
  const history = new Map<string, unknown>();
  const logs = captureLogs();
  const responses: string[] = [];
  const tally: Record<string, { cases: number; byStatus: Record<string, number> }> = {};
  const problems: string[] = [];
  /** Ids of every webhook a 201 created: the list must always be exactly these. */
  const created = new Set<string>();
  let existingId = '';
  /** A webhook signing with an ed25519 key pair the platform made (its private key is searched for). */
  let ed25519 = { id: '', publicKey: '' };

  beforeAll(async () => {
    const s = standIns();
    queue = new RecordingQueue(new SqsDeliveryQueue(s.clients.sqs, s.queueUrl));
    const stores = storesFor(s);
    resendJobs = new CountingResendJobs(stores.resendJobs);
    // The seeded history belongs to webhooks deleted since: lists across webhooks still read it
    // (their tombstones), and the webhook list stays exactly what the fuzz created.
    for (const id of SEED_WEBHOOKS) {
      await stores.webhooks.put(webhookDefinition(id));
      expect(await stores.webhooks.delete(id)).toBe(true);
    }
    for (const seed of SEEDED) {
      const notification: Notification = {
        id: seed.id,
        webhookId: seed.webhookId,
        eventId: `fuzz-evt-${SEEDED.indexOf(seed)}`,
        eventType: 'LOAN_DISBURSEMENT',
        createdAt: seed.createdAt,
        status: seed.status,
        failureReason: seed.status === 'FAILED' ? 'INVALID_HTTP_RESPONSE' : null,
        attempts: [
          {
            number: 1,
            trigger: 'initial',
            startedAt: seed.createdAt,
            durationMs: 5,
            statusCode: seed.status === 'SENT' ? 200 : 500,
            outcome: seed.status === 'SENT' ? 'SENT' : 'FAILED',
            error: seed.status === 'SENT' ? null : 'INVALID_HTTP_RESPONSE',
            responseBody: null,
          },
        ],
        nextAttemptAt: null,
      };
      await stores.payloads.putOnce(
        seed.id,
        {
          method: 'POST',
          url: `https://ledger.example.com/loans/${seed.id}`,
          headers: { 'Content-Type': 'application/json' },
          body: '{"loan":"L-1"}',
        },
        2_000_000_000,
        isAboutSubject(seed) ? SEED_SUBJECT : undefined,
      );
      expect(await stores.notifications.create(notification, 2_000_000_000)).toBe(true);
    }
    api = createApiHandler({
      stores: { ...stores, resendJobs },
      queue,
      renderer: new Renderer(),
      clock: { now: () => new Date() },
      config: { region: s.region, senderIps: ['127.0.0.1'] },
      logger: logs,
    });
    ingest = createIngestHandler({
      stores: { webhooks: storesFor(s).webhooks },
      queue,
      clock: { now: () => new Date() },
      config: { definitionCacheTtlMs: 0 },
      logger: logs,
    });
    const res = await invoke(api, { method: 'POST', path: '/webhooks', body: REFERENCE });
    expect(res.status).toBe(201);
    existingId = res.body.id;
    created.add(existingId);
    const { signingSecret: _given, ...unsigned } = REFERENCE;
    const signed = await invoke(api, {
      method: 'POST',
      path: '/webhooks',
      body: {
        ...unsigned,
        name: 'fuzz ed25519',
        events: ['FUZZ_DEFINITIONS_ONLY'],
        signing: { scheme: 'ed25519' },
      },
    });
    expect(signed.status).toBe(201);
    ed25519 = { id: signed.body.id, publicKey: signed.body.publicKey };
    created.add(ed25519.id);
    for (const id of SEEDED_IDS) {
      const seen = await invoke(api, { method: 'GET', path: `/notifications/${id}` });
      expect(seen.status).toBe(200);
      history.set(id, seen.body);
    }
  });

  afterAll(() => {
    const cases = Object.values(tally).reduce((n, t) => n + t.cases, 0);
    recordFigures('fuzz', { seed: SEED, runsPerProperty: RUNS, cases, byRoute: tally });
  });

  /** Sends one request and checks the invariants every response must keep. */
  async function send(
    route: string,
    req: ApiRequest & { rawBase64?: string },
    handler: Handler,
  ): Promise<ApiResponse> {
    let res: ApiResponse;
    try {
      if (req.rawBase64 !== undefined) {
        const event = apiGatewayEvent({ ...req, body: 'x', base64: true });
        event.body = req.rawBase64;
        const out = await handler(event);
        const text = out.body ?? '';
        res = {
          status: out.statusCode ?? 200,
          headers: (out.headers ?? {}) as Record<string, string>,
          body: text ? JSON.parse(text) : undefined,
          rawBody: text,
        };
      } else {
        res = await invoke(handler, req);
      }
    } catch (err) {
      problems.push(`${route}: handler threw ${(err as Error).message?.slice(0, 200)}`);
      throw err;
    }
    const t = tally[route] ?? { cases: 0, byStatus: {} };
    tally[route] = t;
    t.cases += 1;
    t.byStatus[res.status] = (t.byStatus[res.status] ?? 0) + 1;
    if (res.rawBody) responses.push(res.rawBody);
    const sample = (req.body === undefined ? '' : String(req.body)).slice(0, 120);
    if (res.status >= 500)
      problems.push(
        `${route}: ${res.status} for ${req.method} ${req.path.slice(0, 120)} ${sample}`,
      );
    if (res.status >= 400) {
      const code = res.body?.error?.code;
      if (typeof code !== 'string' || code === '' || typeof res.body?.error?.message !== 'string') {
        problems.push(`${route}: ${res.status} without an error code for ${sample}`);
      }
    }
    return res;
  }

  async function listIds(): Promise<string[]> {
    const res = await invoke(api, { method: 'GET', path: '/webhooks' });
    expect(res.status).toBe(200);
    return (res.body.items as { id: string }[]).map((i) => i.id).sort();
  }

  it('POST /webhooks: refused definitions leave the list unchanged; accepted ones come back masked', async () => {
    await fc.assert(
      fc.asyncProperty(definitionBody, async (body) => {
        const res = await send('POST /webhooks', { method: 'POST', path: '/webhooks', body }, api);
        if (res.status === 201) {
          created.add(res.body.id);
          expect(res.rawBody).not.toContain(secrets.password);
        } else {
          expect([400, 413, 415]).toContain(res.status);
        }
      }),
      { numRuns: RUNS * 2, seed: SEED },
    );
    expect(await listIds()).toEqual([...created].sort());
    expect(problems).toEqual([]);
  });

  it('PUT /webhooks/{id}: a refused replace leaves the definition exactly as it was', async () => {
    const before = await invoke(api, { method: 'GET', path: `/webhooks/${existingId}` });
    await fc.assert(
      fc.asyncProperty(definitionBody, async (body) => {
        const res = await send(
          'PUT /webhooks/{id}',
          { method: 'PUT', path: `/webhooks/${existingId}`, body },
          api,
        );
        if (res.status === 200) {
          // Accepted: restore the reference definition so later cases compare against it.
          const restored = await invoke(api, {
            method: 'PUT',
            path: `/webhooks/${existingId}`,
            body: REFERENCE,
          });
          expect(restored.status).toBe(200);
          return;
        }
        const after = await invoke(api, { method: 'GET', path: `/webhooks/${existingId}` });
        const { version: _v1, updatedAt: _u1, ...a } = after.body;
        const { version: _v2, updatedAt: _u2, ...b } = before.body;
        expect(a).toEqual(b);
      }),
      { numRuns: RUNS, seed: SEED + 1 },
    );
    expect(problems).toEqual([]);
  });

  it('POST /events: a refused event or batch enqueues nothing; an accepted one enqueues exactly what it reports', async () => {
    await fc.assert(
      fc.asyncProperty(eventsBody, async (body) => {
        const before = queue.enqueued;
        const res = await send('POST /events', { method: 'POST', path: '/events', body }, ingest);
        const delta = queue.enqueued - before;
        if (res.status === 202) {
          const reported = res.body.events
            ? (res.body.events as { notifications: number }[]).reduce(
                (n, e) => n + e.notifications,
                0,
              )
            : res.body.notifications;
          expect(delta).toBe(reported);
        } else {
          expect([400, 413, 415]).toContain(res.status);
          expect(delta).toBe(0);
        }
      }),
      { numRuns: RUNS * 2, seed: SEED + 2 },
    );
    expect(problems).toEqual([]);
  });

  it('raw bytes: invalid UTF-8, wrong content types and oversized bodies on every body-taking route', async () => {
    const routes: [string, string, Handler][] = [
      ['POST', '/events', ingest],
      ['POST', '/webhooks', api],
      ['PUT', `/webhooks/${existingId}`, api],
      ['POST', `/webhooks/${existingId}/preview`, api],
      ['POST', '/notifications/resend', api],
    ];
    const bytes = fc.uint8Array({ minLength: 1, maxLength: 300 }).filter((b) => {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(b);
        return false;
      } catch {
        return true;
      }
    });
    const listBefore = await listIds();
    const enqueuedBefore = queue.enqueued;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), bytes, async ([method, path, handler], raw) => {
        const res = await send(
          `${method} ${path.replace(existingId, '{id}')} (raw bytes)`,
          { method, path, rawBase64: Buffer.from(raw).toString('base64') },
          handler,
        );
        expect(res.status).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: RUNS, seed: SEED + 3 },
    );
    // A body each route would accept as application/json: the 415 is the Content-Type's alone.
    const acceptedBody: Record<string, string> = {
      '/events': JSON.stringify({ type: 'LOAN_DISBURSEMENT', data: { loanId: 'L-1' } }),
      '/webhooks': JSON.stringify(VALID),
      [`/webhooks/${existingId}`]: JSON.stringify(REFERENCE),
      [`/webhooks/${existingId}/preview`]: JSON.stringify({ type: 'LOAN_DISBURSEMENT', data: {} }),
      '/notifications/resend': JSON.stringify({ ids: [SEEDED_IDS[0]] }),
    };
    const notJson = fc.constantFrom<string | null>(
      null,
      '',
      'text/plain',
      'text/json',
      'application/xml',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/jsonx',
      'application/json+xml',
      '*/*',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        notJson,
        async ([method, path, handler], contentType) => {
          const res = await send(
            `${method} ${path.replace(existingId, '{id}')} (content types)`,
            { method, path, body: acceptedBody[path], contentType },
            handler,
          );
          expect([res.status, res.body?.error?.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
        },
      ),
      { numRuns: Math.ceil(RUNS / 3), seed: SEED + 4 },
    );
    // Other spellings of JSON in UTF-8 pass the Content-Type check: the body is read (and
    // here refused as INVALID_JSON), so the 415s above are not a check refusing everything.
    const json = fc.constantFrom(
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/json; charset=utf8',
      'application/merge-patch+json',
      'application/vnd.api+json; charset=utf-8',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        json,
        async ([method, path, handler], contentType) => {
          const res = await send(
            `${method} ${path.replace(existingId, '{id}')} (JSON content types)`,
            { method, path, body: '{"type":', contentType },
            handler,
          );
          expect([res.status, res.body?.error?.code]).toEqual([400, 'INVALID_JSON']);
        },
      ),
      { numRuns: Math.ceil(RUNS / 3), seed: SEED + 9 },
    );
    for (const [method, path, handler] of routes) {
      const res = await send(
        `${method} ${path.replace(existingId, '{id}')} (oversized)`,
        { method, path, body: `{"a":"${'x'.repeat(6 * 1024 * 1024)}"}` },
        handler,
      );
      expect(res.status).toBe(413);
    }
    expect(await listIds()).toEqual(listBefore);
    expect(queue.enqueued).toBe(enqueuedBefore);
    expect(problems).toEqual([]);
  });

  it('junk paths, methods and query strings: 404 NOT_FOUND off the documented paths, 405 METHOD_NOT_ALLOWED with Allow off their methods, else a documented status', async () => {
    const enqueuedBefore = queue.enqueued;
    const listBefore = await listIds();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        fc.constantFrom(...ROUTES),
        fc.array(segment, { maxLength: 3 }),
        junkQuery,
        async (method, route, segments, query) => {
          const path = `/${[route, ...segments].join('/')}${query ? `?${query}` : ''}`;
          const handler = route === 'events' ? ingest : api;
          // Only bodies that cannot create or enqueue anything valid: this case is about routing.
          const res = await send(
            'paths, methods, queries',
            {
              method,
              path,
              body: method === 'GET' || method === 'HEAD' ? undefined : '{"ids":"x"}',
            },
            handler,
          );
          const rawPath = path.split('?')[0]!;
          const outcome = documentedRoute(method, rawPath, handler === ingest);
          const code = res.body?.error?.code;
          if (outcome.templates.length === 0) {
            expect([res.status, code]).toEqual([404, 'NOT_FOUND']);
          } else if (outcome.statuses === undefined) {
            expect([res.status, code, res.headers.allow]).toEqual([
              405,
              'METHOD_NOT_ALLOWED',
              outcome.allow.join(', '),
            ]);
          } else {
            // Reached a documented operation: one of its documented statuses, never a 405.
            expect({ status: res.status, documented: outcome.statuses.has(res.status) }).toEqual({
              status: res.status,
              documented: true,
            });
            expect(res.status).not.toBe(405);
          }
          if (CODE_OF_STATUS[res.status] !== undefined)
            expect(code).toBe(CODE_OF_STATUS[res.status]);
        },
      ),
      { numRuns: RUNS * 2, seed: SEED + 5 },
    );
    await fc.assert(
      fc.asyncProperty(junkQuery, async (query) => {
        const res = await send(
          'GET /notifications?junk',
          { method: 'GET', path: `/notifications?${query}` },
          api,
        );
        if (res.status === 200) return;
        expect(res.status).toBe(400);
        expect(['VALIDATION_ERROR', 'INVALID_CURSOR']).toContain(res.body.error.code);
      }),
      { numRuns: RUNS, seed: SEED + 6 },
    );
    expect(queue.enqueued).toBe(enqueuedBefore);
    expect(await listIds()).toEqual(listBefore);
    expect(problems).toEqual([]);
  });

  it('preview with generated bodies: 200 or a coded 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(eventsBody, fc.constant('')), async (body) => {
        const res = await send(
          'POST /webhooks/{id}/preview',
          { method: 'POST', path: `/webhooks/${existingId}/preview`, body },
          api,
        );
        expect([200, 400, 413, 415]).toContain(res.status);
      }),
      { numRuns: RUNS, seed: SEED + 7 },
    );
    expect(problems).toEqual([]);
  });

  /** The seeded notifications `ids` names still read as they did before any resend. */
  async function expectHistoryUnchanged(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const now = await invoke(api, { method: 'GET', path: `/notifications/${id}` });
      expect(now.status).toBe(200);
      expect(now.body).toEqual(history.get(id));
    }
  }

  const isoOf = (value: string) => new Date(Date.parse(value.replace(' ', 'T'))).toISOString();

  it('bulk resend with generated bodies: an accepted one enqueues exactly the jobs asked for and records one resend job the API shows; a refused one enqueues and records nothing', async () => {
    const seededById = new Map(SEEDED.map((n) => [n.id, n]));
    await fc.assert(
      fc.asyncProperty(resendCase, async ({ body, expected }) => {
        const enqueuedBefore = queue.enqueued;
        const jobsBefore = resendJobs.created;
        const res = await send(
          'POST /notifications/resend',
          { method: 'POST', path: '/notifications/resend', body },
          api,
        );
        if (expected !== undefined) expect(res.status).toBe(expected);
        const enqueued = queue.jobs.slice(enqueuedBefore);
        const request = JSON.parse(body) as Record<string, unknown>;
        if (res.status !== 202) {
          expect([400, 404, 413, 415]).toContain(res.status);
          expect({ enqueued, jobsRecorded: resendJobs.created - jobsBefore }).toEqual({
            enqueued: [],
            jobsRecorded: 0,
          });
          if (res.status === 404) {
            // Documented: the 404 names every unknown id with its index.
            const ids = request.ids as string[];
            const unknown = ids.flatMap((id, index) => (seededById.has(id) ? [] : [index]));
            expect(res.body.error.code).toBe('NOT_FOUND');
            expect((res.body.error.details as { index: number }[]).map((d) => d.index)).toEqual(
              unknown,
            );
          }
          return;
        }
        const { jobId, count } = res.body as { jobId: string; count: number };
        expect(resendJobs.created - jobsBefore).toBe(1);
        let queued: number;
        if (Array.isArray(request.ids)) {
          const ids = request.ids as string[];
          // Exactly one resend job per notification asked for, each once, for its own webhook.
          expect(count).toBe(ids.length);
          expect(enqueued).toEqual(
            ids.map((id) => ({
              kind: 'resend',
              notificationId: id,
              webhookId: seededById.get(id)?.webhookId,
              jobId,
            })),
          );
          queued = ids.length;
          await expectHistoryUnchanged(ids);
        } else {
          const range = request as {
            from: string;
            to: string;
            status?: string;
            webhookId?: string;
          };
          const matches = seededInRange(range);
          expect(count).toBe(matches.length);
          const query = {
            from: isoOf(range.from),
            to: isoOf(range.to),
            status: range.status ?? 'FAILED',
            ...(range.webhookId === undefined ? {} : { webhookId: range.webhookId }),
          };
          // One job that expands the range later, and none when nothing matches.
          expect(enqueued).toEqual(
            matches.length > 0 ? [{ kind: 'resendQuery', jobId, query }] : [],
          );
          queued = 0;
          await expectHistoryUnchanged(matches.map((n) => n.id));
        }
        // The job is recorded once, as the API shows it.
        const job = await invoke(api, { method: 'GET', path: `/notifications/resend/${jobId}` });
        expect(job.status).toBe(200);
        expect(job.body).toEqual({
          jobId,
          count,
          queued,
          sent: 0,
          failed: 0,
          erased: 0,
          createdAt: expect.any(String),
        });
      }),
      { numRuns: RUNS, seed: SEED + 8 },
    );
    expect(problems).toEqual([]);
  });

  it('resend of one notification: a seeded id (its webhook deleted since) is 409 WEBHOOK_DISABLED, any other id 404 NOT_FOUND; neither enqueues anything', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom(...SEEDED),
          unknownId.map((id) => ({ id, webhookId: undefined })),
          segment.filter((s) => s !== '').map((id) => ({ id, webhookId: undefined })),
        ),
        async ({ id, webhookId }) => {
          const enqueuedBefore = queue.enqueued;
          const jobsBefore = resendJobs.created;
          const res = await send(
            'POST /notifications/{id}/resend',
            { method: 'POST', path: `/notifications/${id}/resend` },
            api,
          );
          const enqueued = queue.jobs.slice(enqueuedBefore);
          expect(resendJobs.created).toBe(jobsBefore);
          if (webhookId !== undefined) {
            expect([res.status, res.body?.error?.code]).toEqual([409, 'WEBHOOK_DISABLED']);
            expect(res.body.error.message).toContain(webhookId);
            expect(enqueued).toEqual([]);
            await expectHistoryUnchanged([id]);
          } else {
            expect([res.status, res.body?.error?.code]).toEqual([404, 'NOT_FOUND']);
            expect(enqueued).toEqual([]);
          }
        },
      ),
      { numRuns: RUNS, seed: SEED + 10 },
    );
    expect(problems).toEqual([]);
  });

  it('deeply nested templates (500 to 8000 levels, from several stack heights) get 201 or a coded 4xx and never abort the process', () => {
    const probe = spawnSync(
      process.execPath,
      ['-r', './local/register.js', 'test/reliability/support/nested-template-probe.ts'],
      {
        cwd: path.resolve(__dirname, '../..'),
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    const cases = probe.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { status: number; code: string | null });
    const t = tally['POST /webhooks (nested templates, child process)'] ?? {
      cases: 0,
      byStatus: {},
    };
    tally['POST /webhooks (nested templates, child process)'] = t;
    for (const c of cases) {
      t.cases += 1;
      t.byStatus[c.status] = (t.byStatus[c.status] ?? 0) + 1;
    }
    expect({
      exit: probe.status,
      signal: probe.signal,
      stderr: probe.stderr.split('\n').filter((l) => /FATAL|probe failed/.test(l)),
    }).toEqual({
      exit: 0,
      signal: null,
      stderr: [],
    });
    expect(cases).toHaveLength(48);
    expect(
      cases.filter((c) => !(c.status === 201 || (c.status >= 400 && c.status < 500 && c.code))),
    ).toEqual([]);
  });

  it('queue holds exactly what the handlers reported enqueuing (nothing half-sent)', async () => {
    const jobs = await drainQueue(standIns().clients.sqs, standIns().queueUrl, 1);
    expect(jobs.length).toBe(queue.enqueued);
  });

  it('no secret, private key or subject key in API responses or the handlers logs', async () => {
    // The keys the platform made, opened from the tables with the installation key.
    const s = standIns();
    const made = await platformKeys(s.clients.dynamo, s.tables, standInCipher(s), [ed25519.id]);
    const needles = [...needlesOf(secrets), ...platformKeyNeedles(made)];
    const findings = searchTexts(
      [
        { where: 'api responses', text: responses.join('\n') },
        { where: 'handler logs', text: logs.lines.join('\n') },
      ],
      needles,
    );
    const planted = searchTexts([{ where: 'planted', text: JSON.stringify(needles) }], needles);
    const privateKeys = made.privateKeys.get(ed25519.id) ?? [];
    // They are the keys in use: the private key gives the public key the API showed, the
    // subject key opens every sealed seeded request.
    expect(privateKeys).toHaveLength(1);
    expect(publicKeyOf(privateKeys[0]!)).toBe(ed25519.publicKey);
    expect(made.subjectKeys).toHaveLength(1);
    expect(made.sealedPayloads).toBe(SEEDED.filter(isAboutSubject).length);
    expect(made.sealedPayloadsOpened).toBe(made.sealedPayloads);
    expect(new Set(planted.map((f) => f.needle)).size).toBe(new Set(needles).size);
    expect(responses.length).toBeGreaterThan(RUNS);
    expect(findings).toEqual([]);
  });
});
