/**
 * Webhook definitions through the api handler (API Gateway v2 events) against DynamoDB Local:
 * create, list, get, replace, delete, preview, and every way a request can be refused.
 */

import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { DeliveryJob, WebhookDefinition } from '../../lambdas/core/model';
import { Renderer } from '../../lambdas/core/render';
import { buildRenderContext, sampleEvent } from '../../lambdas/core/render-context';
import { isValidSigningSecret } from '../../lambdas/core/signing';
import { DEFAULTS } from '../../lambdas/defaults';
import type { WebhookStore } from '../../lambdas/ports';
import { apiHandlerFor, drainQueue, ingestHandlerFor, storesFor } from '../support/api-harness';
import { client } from '../support/apigw';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();

const ledger = {
  name: '  Loan disbursed to ledger  ',
  events: ['LOAN_DISBURSEMENT'],
  url: 'https://ledger.example.com/loans/{{ data.loanId }}',
  headers: { 'X-Branch': '{{ data.branch }}' },
  body: '{"loan": {{ data.loanId | json }}, "amount": {{ data.amount }}}',
};

function setup() {
  const harness = apiHandlerFor(standIns());
  return { ...harness, api: client(harness.handler), stores: storesFor(standIns()) };
}

function paths(res: { body: { error: { details: { path?: string }[] } } }): string[] {
  return res.body.error.details.map((d) => d.path ?? '');
}

describe('creating a webhook', () => {
  it('stores a minimal definition with documented defaults and answers 201 with a Location', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', {
      name: 'min',
      events: ['*'],
      url: 'https://example.com/hook',
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/webhooks/${res.body.id}`);
    expect(res.body).toMatchObject({
      name: 'min',
      events: ['*'],
      enabled: true,
      method: 'POST',
      contentType: 'application/json',
      headers: {},
      strict: false,
      auth: null,
      signingSecret: null,
      maxConcurrency: 10,
      version: 1,
    });
    expect(res.body.id).toMatch(/^wh_/);
    expect(res.body.body).toContain('{{ data | json }}');
    const got = await api.get(`/webhooks/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
  });

  it('trims the name, keeps templates verbatim and lists the definition', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', ledger);
    expect(res.status).toBe(201);
    expect(res.body.name).toBe('Loan disbursed to ledger');
    expect(res.body.url).toBe(ledger.url);
    expect(res.body.headers).toEqual(ledger.headers);
    const list = await api.get('/webhooks');
    expect(list.status).toBe(200);
    expect(list.body.items.map((w: { id: string }) => w.id)).toContain(res.body.id);
  });

  it('masks the password, shows a generated signing secret once, and stores both in clear', async () => {
    const { api, stores, logs } = setup();
    const res = await api.post('/webhooks', {
      ...ledger,
      auth: { type: 'basic', username: 'svc', password: 'pa55-word-xyz' },
      signingSecret: 'generate',
    });
    expect(res.status).toBe(201);
    expect(res.body.auth).toEqual({ type: 'basic', username: 'svc', password: '***' });
    expect(isValidSigningSecret(res.body.signingSecret)).toBe(true);
    const shown = res.body.signingSecret as string;

    const got = await api.get(`/webhooks/${res.body.id}`);
    expect(got.body.signingSecret).toBe('whsec_***');
    expect(got.body.auth.password).toBe('***');
    const list = await api.get('/webhooks');
    expect(JSON.stringify(list.body)).not.toContain('pa55-word-xyz');
    expect(JSON.stringify(list.body)).not.toContain(shown);

    const stored = await stores.webhooks.get(res.body.id);
    expect(stored?.auth?.password).toBe('pa55-word-xyz');
    expect(stored?.signingSecret).toBe(shown);
    expect(logs.lines.join('\n')).not.toContain('pa55-word-xyz');
    expect(logs.lines.join('\n')).not.toContain(shown.slice(6));
  });

  it('accepts a signing secret in whsec_ form and never returns it', async () => {
    const { api, stores } = setup();
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const res = await api.post('/webhooks', {
      ...ledger,
      signingSecret: secret,
      method: 'PUT',
      contentType: 'application/json',
    });
    expect(res.status).toBe(201);
    expect(res.body.signingSecret).toBe('whsec_***');
    expect((await stores.webhooks.get(res.body.id))?.signingSecret).toBe(secret);
  });

  it('reports every problem of a bad definition at once, with paths', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', {
      name: '   ',
      events: [],
      enabled: 'yes',
      method: 'GET',
      contentType: 'text/html',
      url: 'https://x.example/',
      headers: {
        'Bad Name': 'x',
        Host: 'evil',
        'Content-Type': 'text/plain',
        'webhook-id': 'x',
        'X-Num': 5,
      },
      auth: { type: 'digest', username: 'a:b', password: '' },
      signingSecret: 'not-a-secret',
      colour: 'red',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(paths(res).sort()).toEqual(
      [
        'colour',
        'name',
        'events',
        'enabled',
        'method',
        'contentType',
        'headers.Bad Name',
        'headers.Host',
        'headers.Content-Type',
        'headers.webhook-id',
        'headers.X-Num',
        'auth.type',
        'auth.username',
        'auth.password',
        'signingSecret',
      ].sort(),
    );
    expect(res.body.error.message).toMatch(/Invalid webhook definition/);
  });

  it('requires name, events and url, and a body for XML', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', { contentType: 'application/xml' });
    expect(res.status).toBe(400);
    expect(paths(res).sort()).toEqual(['body', 'events', 'name', 'url']);
  });

  it('refuses read-only fields, a masked secret and an overlong name on create', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', {
      ...ledger,
      id: 'wh_mine',
      version: 3,
      name: 'n'.repeat(256),
      signingSecret: 'whsec_***',
      auth: { type: 'basic', username: 'svc', password: '***' },
    });
    expect(res.status).toBe(400);
    expect(paths(res).sort()).toEqual(['auth.password', 'id', 'name', 'signingSecret', 'version']);
  });

  it('keeps a concurrency cap from 1 to 100 and refuses anything else, storing nothing', async () => {
    const { api, stores } = setup();
    const capped = await api.post('/webhooks', { ...ledger, maxConcurrency: 3 });
    expect(capped.status).toBe(201);
    expect(capped.body.maxConcurrency).toBe(3);
    expect((await stores.webhooks.get(capped.body.id))?.maxConcurrency).toBe(3);

    const before = (await stores.webhooks.list()).length;
    for (const bad of [0, 101, 2.5, '5', null]) {
      const res = await api.post('/webhooks', { ...ledger, maxConcurrency: bad });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(paths(res)).toEqual(['maxConcurrency']);
    }
    expect(await stores.webhooks.list()).toHaveLength(before);
  });

  it('takes header names up to 256 characters and refuses longer ones with a 400, storing nothing', async () => {
    const { api, stores } = setup();
    const longest = `X-${'a'.repeat(254)}`;
    const ok = await api.post('/webhooks', { ...ledger, headers: { [longest]: 'v' } });
    expect(ok.status).toBe(201);
    expect(Object.keys(ok.body.headers)).toEqual([longest]);

    const before = (await stores.webhooks.list()).length;
    // A name this long would be an attribute name beyond DynamoDB's limit: a 500 before.
    for (const name of [`${longest}b`, `X-${'a'.repeat(70_000)}`]) {
      const res = await api.post('/webhooks', { ...ledger, headers: { [name]: 'v' } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(res.body.error.details).toEqual([
        {
          path: `headers.${name.slice(0, 32)}...`,
          message: expect.stringContaining('at most 256'),
        },
      ]);
      expect(JSON.stringify(res.body).length).toBeLessThan(1000);
    }
    expect(await stores.webhooks.list()).toHaveLength(before);
  });

  it('accepts every field at its limit and refuses one more at its path, storing nothing', async () => {
    const { api, stores } = setup();
    const url = 'https://ledger.example.com/';
    const atLimit = {
      name: 'n'.repeat(255),
      events: Array.from({ length: 100 }, (_, i) => `TYPE_${i}`),
      url: `${url}${'a'.repeat(4096 - url.length)}`,
      contentType: 'text/plain',
      headers: Object.fromEntries(
        Array.from({ length: 50 }, (_, i) => [`X-H${i}`, i === 0 ? 'v'.repeat(8192) : 'v']),
      ),
      body: 'b'.repeat(128 * 1024),
      auth: { type: 'basic', username: 'u'.repeat(255), password: 'p'.repeat(1024) },
      rateLimitPerSecond: 10_000,
    };
    const ok = await api.post('/webhooks', atLimit);
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({
      name: atLimit.name,
      url: atLimit.url,
      rateLimitPerSecond: 10_000,
    });
    expect(ok.body.events).toHaveLength(100);
    expect(Object.keys(ok.body.headers)).toHaveLength(50);
    const slowest = await api.post('/webhooks', { ...ledger, rateLimitPerSecond: 1 });
    expect(slowest.status).toBe(201);
    expect(slowest.body.rateLimitPerSecond).toBe(1);

    const before = (await stores.webhooks.list()).length;
    const oneMore: [string, Record<string, unknown>][] = [
      ['name', { name: 'n'.repeat(256) }],
      ['events', { events: [...atLimit.events, 'TYPE_100'] }],
      ['url', { url: `${atLimit.url}a` }],
      ['headers', { headers: { ...atLimit.headers, 'X-H50': 'v' } }],
      ['headers.X-H0', { headers: { ...atLimit.headers, 'X-H0': 'v'.repeat(8193) } }],
      ['body', { body: 'b'.repeat(128 * 1024 + 1) }],
      ['auth.username', { auth: { ...atLimit.auth, username: 'u'.repeat(256) } }],
      ['auth.password', { auth: { ...atLimit.auth, password: 'p'.repeat(1025) } }],
      ['rateLimitPerSecond', { rateLimitPerSecond: 10_001 }],
      ['rateLimitPerSecond', { rateLimitPerSecond: 0 }],
      ['rateLimitPerSecond', { rateLimitPerSecond: 2.5 }],
      ['rateLimitPerSecond', { rateLimitPerSecond: '5' }],
    ];
    for (const [path, change] of oneMore) {
      const res = await api.post('/webhooks', { ...atLimit, ...change });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(paths(res)).toEqual([path]);
    }
    expect(await stores.webhooks.list()).toHaveLength(before);
  });

  it('refuses control characters (C0, DEL, C1) in the url, header values, credentials and event types, a header given twice and types no producer can publish, at their path, storing nothing', async () => {
    const { api, stores } = setup();
    const before = (await stores.webhooks.list()).length;
    const auth = { type: 'basic', username: 'svc', password: 'secret' };
    for (const c of ['\n', '\u007f', '\u0085']) {
      const cases: [string, Record<string, unknown>][] = [
        ['url', { url: `https://ledger.example.com/a${c}b` }],
        ['headers.X-Branch', { headers: { 'X-Branch': `a${c}b` } }],
        ['auth.username', { auth: { ...auth, username: `s${c}vc` } }],
        ['auth.password', { auth: { ...auth, password: `sec${c}ret` } }],
        ['events[0]', { events: [`LOAN${c}DISBURSEMENT`] }],
      ];
      for (const [path, change] of cases) {
        const res = await api.post('/webhooks', { ...ledger, ...change });
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('VALIDATION_ERROR');
        expect(paths(res)).toEqual([path]);
      }
    }
    const twice = await api.post('/webhooks', {
      ...ledger,
      headers: { 'X-Branch': 'a', 'x-branch': 'b' },
    });
    expect(twice.status).toBe(400);
    expect(paths(twice)).toEqual(['headers.x-branch']);
    // Types no producer can publish: blank, or under platform. but not an operational type.
    for (const type of ['   ', 'platform.nope']) {
      const res = await api.post('/webhooks', { ...ledger, events: ['LOAN_DISBURSEMENT', type] });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(paths(res)).toEqual(['events[1]']);
    }
    expect(await stores.webhooks.list()).toHaveLength(before);
  });

  it('takes a tab and U+00A0 inside a header value and refuses U+001F and U+009F, the last C0 and C1 controls', async () => {
    const { api, stores } = setup();
    for (const c of ['\t', '\u00a0']) {
      const res = await api.post('/webhooks', { ...ledger, headers: { 'X-Branch': `a${c}b` } });
      expect(res.status).toBe(201);
      expect(res.body.headers).toEqual({ 'X-Branch': `a${c}b` });
    }
    const before = (await stores.webhooks.list()).length;
    for (const c of ['\u001f', '\u009f']) {
      const res = await api.post('/webhooks', { ...ledger, headers: { 'X-Branch': `a${c}b` } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(paths(res)).toEqual(['headers.X-Branch']);
    }
    expect(await stores.webhooks.list()).toHaveLength(before);
  });

  it('refuses a header name given twice whichever case comes first, storing nothing', async () => {
    const { api, stores } = setup();
    const before = (await stores.webhooks.list()).length;
    const twice = await api.post('/webhooks', {
      ...ledger,
      headers: { 'x-branch': 'a', 'X-Branch': 'b' },
    });
    expect(twice.status).toBe(400);
    expect(twice.body.error.code).toBe('VALIDATION_ERROR');
    expect(paths(twice)).toEqual(['headers.X-Branch']);
    expect(await stores.webhooks.list()).toHaveLength(before);
  });

  it('keeps an event type given twice once', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', {
      ...ledger,
      events: ['LOAN_DISBURSEMENT', 'LOAN_REPAYMENT', 'LOAN_DISBURSEMENT'],
    });
    expect(res.status).toBe(201);
    expect(res.body.events).toEqual(['LOAN_DISBURSEMENT', 'LOAN_REPAYMENT']);
  });

  it('refuses an Authorization header when auth is set', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', {
      ...ledger,
      headers: { authorization: 'Bearer x' },
      auth: { type: 'basic', username: 'svc', password: 'pw' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(paths(res)[0]).toMatch(/^headers\.authorization$/i);
  });

  it.each([
    ['a template that does not parse', { url: 'https://x.example/{% if %}' }, 'url'],
    ['a URL that renders relative', { url: '/relative/{{ data.id }}' }, 'url'],
    ['a URL with another scheme', { url: 'ftp://x.example/' }, 'url'],
    ['a JSON body that renders invalid JSON', { body: '{"a": {{ data.x }' }, 'body'],
    [
      'a header template that does not parse',
      { headers: { 'X-A': '{{ data.x | nosuchfilter }}' } },
      'headers.X-A',
    ],
  ])('answers 400 TEMPLATE_ERROR for %s', async (_what, patch, path) => {
    const { api } = setup();
    const res = await api.post('/webhooks', { ...ledger, ...patch });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('TEMPLATE_ERROR');
    expect(paths(res)).toContain(path);
  });

  it('accepts XML and text bodies that are not JSON', async () => {
    const { api } = setup();
    const xml = await api.post('/webhooks', {
      ...ledger,
      contentType: 'application/xml',
      body: '<loan id="{{ data.loanId | xml_escape }}"/>',
    });
    expect(xml.status).toBe(201);
    const text = await api.post('/webhooks', {
      ...ledger,
      contentType: 'text/plain',
      body: 'loan {{ data.loanId }}',
    });
    expect(text.status).toBe(201);
  });
});

describe('the edge of the webhooks routes', () => {
  it('answers 415 for a non-JSON body, 400 INVALID_JSON for broken JSON, 413 above 256 KiB', async () => {
    const { api } = setup();
    const form = await api.post('/webhooks', 'name=x', {
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const broken = await api.post('/webhooks', '{"name": "x",');
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('INVALID_JSON');
    const huge = await api.post('/webhooks', { ...ledger, body: 'x'.repeat(300 * 1024) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a __proto__ key without polluting anything', async () => {
    const { api } = setup();
    const res = await api.post(
      '/webhooks',
      '{"name":"p","events":["*"],"url":"https://x.example/","__proto__":{"enabled":false}}',
    );
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(['__proto__']);
    expect(({} as { enabled?: unknown }).enabled).toBeUndefined();
  });

  it('accepts a base64-encoded body', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', { ...ledger, name: 'b64' }, { base64: true });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe('b64');
  });

  it('answers 404 for an unknown id and 405 for a method the path does not serve', async () => {
    const { api } = setup();
    const missing = await api.get('/webhooks/wh_nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({
      code: 'NOT_FOUND',
      message: 'Webhook wh_nope not found.',
    });
    const patch = await api.request({ method: 'PATCH', path: '/webhooks/wh_nope', body: {} });
    expect(patch.status).toBe(405);
    expect(patch.headers.allow).toBe('DELETE, GET, PUT');
  });
});

describe('replacing a webhook', () => {
  async function created(api: ReturnType<typeof setup>['api']) {
    const res = await api.post('/webhooks', {
      ...ledger,
      auth: { type: 'basic', username: 'svc', password: 'first-password' },
      signingSecret: 'generate',
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; signingSecret: string; version: number };
  }

  it('replaces the definition, increments the version and keeps secrets sent back masked', async () => {
    const { api, stores } = setup();
    const first = await created(api);
    const got = await api.get(`/webhooks/${first.id}`);
    const res = await api.put(`/webhooks/${first.id}`, {
      ...got.body,
      name: 'renamed',
      enabled: false,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: first.id,
      name: 'renamed',
      enabled: false,
      version: 2,
      signingSecret: 'whsec_***',
    });
    expect(res.body.createdAt).toBe(got.body.createdAt);
    const stored = await stores.webhooks.get(first.id);
    expect(stored?.auth).toEqual({ type: 'basic', username: 'svc', password: 'first-password' });
    expect(stored?.signingSecret).toBe(first.signingSecret);
  });

  it('keeps the password when omitted, and the secrets when auth and signingSecret are omitted', async () => {
    const { api, stores } = setup();
    const first = await created(api);
    const renamed = await api.put(`/webhooks/${first.id}`, {
      ...ledger,
      auth: { type: 'basic', username: 'svc2' },
    });
    expect(renamed.status).toBe(200);
    expect((await stores.webhooks.get(first.id))?.auth).toEqual({
      type: 'basic',
      username: 'svc2',
      password: 'first-password',
    });
    const omitted = await api.put(`/webhooks/${first.id}`, ledger);
    expect(omitted.status).toBe(200);
    const stored = await stores.webhooks.get(first.id);
    expect(stored?.auth?.password).toBe('first-password');
    expect(stored?.signingSecret).toBe(first.signingSecret);
    expect(stored?.version).toBe(3);
  });

  it('changes the password when given, removes auth and secret with null, and regenerates on "generate"', async () => {
    const { api, stores } = setup();
    const first = await created(api);
    await api.put(`/webhooks/${first.id}`, {
      ...ledger,
      auth: { type: 'basic', username: 'svc', password: 'second' },
    });
    expect((await stores.webhooks.get(first.id))?.auth?.password).toBe('second');

    const regenerated = await api.put(`/webhooks/${first.id}`, {
      ...ledger,
      signingSecret: 'generate',
    });
    expect(regenerated.status).toBe(200);
    expect(isValidSigningSecret(regenerated.body.signingSecret)).toBe(true);
    expect(regenerated.body.signingSecret).not.toBe(first.signingSecret);
    expect((await stores.webhooks.get(first.id))?.signingSecret).toBe(
      regenerated.body.signingSecret,
    );

    const removed = await api.put(`/webhooks/${first.id}`, {
      ...ledger,
      auth: null,
      signingSecret: null,
    });
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ auth: null, signingSecret: null });
    const stored = await stores.webhooks.get(first.id);
    expect(stored?.auth).toBeUndefined();
    expect(stored?.signingSecret).toBeUndefined();
  });

  it('requires a password when there is none to keep', async () => {
    const { api } = setup();
    const plain = await api.post('/webhooks', ledger);
    const res = await api.put(`/webhooks/${plain.body.id}`, {
      ...ledger,
      auth: { type: 'basic', username: 'svc', password: '***' },
    });
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(['auth.password']);
  });

  describe('a kept password and a changed destination', () => {
    const raw = async (id: string) => {
      const s = standIns();
      const got = await s.clients.dynamo.send(
        new GetItemCommand({ TableName: s.tables.webhooks, Key: { id: { S: id } } }),
      );
      return JSON.stringify(got.Item);
    };
    const expectRefused = (res: { status: number; body: { error: { code: string } } }) => {
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(paths(res as never)).toEqual(['auth.password']);
      expect(JSON.stringify(res.body)).toMatch(/destination changed/);
    };

    it.each([
      ['another host', 'https://attacker.example/loans/{{ data.loanId }}'],
      ['another port', 'https://ledger.example.com:8443/loans/{{ data.loanId }}'],
      ['another scheme (http)', 'http://ledger.example.com/loans/{{ data.loanId }}'],
      ['a host written as a template', 'https://{{ data.host }}/loans/{{ data.loanId }}'],
      ['user info before the host', 'https://ledger.example.com@attacker.example/loans'],
      ['no path at all', 'https://attacker.example'],
    ])('refuses "***" with %s, writing nothing', async (_what, url) => {
      const { api } = setup();
      const first = await created(api);
      const before = await raw(first.id);
      const res = await api.put(`/webhooks/${first.id}`, {
        ...ledger,
        url,
        auth: { type: 'basic', username: 'svc', password: '***' },
      });
      expectRefused(res);
      expect(await raw(first.id)).toBe(before);
    });

    it('refuses an omitted password or an omitted auth too when the destination changes', async () => {
      const { api } = setup();
      const first = await created(api);
      const before = await raw(first.id);
      const url = 'https://attacker.example/loans';
      expectRefused(
        await api.put(`/webhooks/${first.id}`, {
          ...ledger,
          url,
          auth: { type: 'basic', username: 'svc' },
        }),
      );
      expectRefused(await api.put(`/webhooks/${first.id}`, { ...ledger, url }));
      expect(await raw(first.id)).toBe(before);
    });

    it('refuses a change to a templated host text, and keeps the password while it stays the same', async () => {
      const { api, stores } = setup();
      const res = await api.post('/webhooks', {
        ...ledger,
        url: 'https://{{ data.branch }}.ledger.example.com/loans',
        auth: { type: 'basic', username: 'svc', password: 'first-password' },
      });
      expect(res.status).toBe(201);
      const before = await raw(res.body.id);
      expectRefused(
        await api.put(`/webhooks/${res.body.id}`, {
          ...ledger,
          url: 'https://{{ data.branch }}.attacker.example/loans',
          auth: { type: 'basic', username: 'svc', password: '***' },
        }),
      );
      expect(await raw(res.body.id)).toBe(before);
      const same = await api.put(`/webhooks/${res.body.id}`, {
        ...ledger,
        url: 'https://{{ data.branch }}.ledger.example.com/v2/loans',
        auth: { type: 'basic', username: 'svc', password: '***' },
      });
      expect(same.status).toBe(200);
      expect((await stores.webhooks.get(res.body.id))?.auth?.password).toBe('first-password');
    });

    it('keeps the password through a change of path, query or fragment, not of host', async () => {
      const { api, stores } = setup();
      const first = await created(api);
      expectRefused(
        await api.put(`/webhooks/${first.id}`, {
          ...ledger,
          url: 'https://ledger.example.org/loans/{{ data.loanId }}',
          auth: { type: 'basic', username: 'svc', password: '***' },
        }),
      );
      const res = await api.put(`/webhooks/${first.id}`, {
        ...ledger,
        url: 'https://ledger.example.com/v2/loans/{{ data.loanId }}?source=hooks#x',
        auth: { type: 'basic', username: 'svc', password: '***' },
      });
      expect(res.status).toBe(200);
      expect(res.body.auth).toEqual({ type: 'basic', username: 'svc', password: '***' });
      const stored = await stores.webhooks.get(first.id);
      expect(stored?.url).toBe(
        'https://ledger.example.com/v2/loans/{{ data.loanId }}?source=hooks#x',
      );
      expect(stored?.auth?.password).toBe('first-password');
    });

    it('accepts a new destination with the password given again, or with auth removed, not with "***"', async () => {
      const { api, stores } = setup();
      const first = await created(api);
      expectRefused(
        await api.put(`/webhooks/${first.id}`, {
          ...ledger,
          url: 'https://new-ledger.example.com/loans',
          auth: { type: 'basic', username: 'svc', password: '***' },
        }),
      );
      const moved = await api.put(`/webhooks/${first.id}`, {
        ...ledger,
        url: 'https://new-ledger.example.com/loans',
        auth: { type: 'basic', username: 'svc', password: 'second-password' },
      });
      expect(moved.status).toBe(200);
      expect(moved.body.auth.password).toBe('***');
      expect((await stores.webhooks.get(first.id))?.auth?.password).toBe('second-password');

      const removed = await api.put(`/webhooks/${first.id}`, {
        ...ledger,
        url: 'https://elsewhere.example.com/loans',
        auth: null,
      });
      expect(removed.status).toBe(200);
      expect((await stores.webhooks.get(first.id))?.auth).toBeUndefined();
    });
  });

  it('answers 409 when the version sent is not the current one, and 400 when the id differs or the version is not one', async () => {
    const { api } = setup();
    const first = await created(api);
    await api.put(`/webhooks/${first.id}`, ledger);
    const stale = await api.put(`/webhooks/${first.id}`, { ...ledger, version: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('CONFLICT');
    const other = await api.put(`/webhooks/${first.id}`, { ...ledger, id: 'wh_other' });
    expect(other.status).toBe(400);
    expect(paths(other)).toEqual(['id']);
    // Versions start at 1: anything else is not a version read from the API.
    for (const version of [0, -1, 1.5, '2']) {
      const bad = await api.put(`/webhooks/${first.id}`, { ...ledger, version });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('VALIDATION_ERROR');
      expect(paths(bad)).toEqual(['version']);
    }
  });

  it('refuses createdAt or updatedAt sent back as anything but a string, writing nothing', async () => {
    const { api } = setup();
    const first = await created(api);
    for (const key of ['createdAt', 'updatedAt']) {
      for (const value of [5, null]) {
        const bad = await api.put(`/webhooks/${first.id}`, { ...ledger, [key]: value });
        expect(bad.status).toBe(400);
        expect(bad.body.error.code).toBe('VALIDATION_ERROR');
        expect(paths(bad)).toEqual([key]);
      }
    }
    expect((await api.get(`/webhooks/${first.id}`)).body.version).toBe(first.version);
  });

  it('answers 404 for an unknown id and validates like create', async () => {
    const { api } = setup();
    expect((await api.put('/webhooks/wh_nope', ledger)).status).toBe(404);
    const first = await created(api);
    const bad = await api.put(`/webhooks/${first.id}`, { ...ledger, method: 'DELETE', extra: 1 });
    expect(bad.status).toBe(400);
    expect(paths(bad).sort()).toEqual(['extra', 'method']);
    // An empty id is a problem of the body, named with the others before any lookup.
    const emptyId = await api.put('/webhooks/wh_nope', { ...ledger, id: '', method: 'DELETE' });
    expect(emptyId.status).toBe(400);
    expect(paths(emptyId).sort()).toEqual(['id', 'method']);
  });

  it('lets exactly one of two concurrent replaces at the same version win; the other gets 409', async () => {
    // Both requests read the definition before either writes: the store's conditional put decides.
    const inner = storesFor(standIns()).webhooks;
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => {
      release = resolve;
    });
    const gated: WebhookStore = {
      get: async (id) => {
        const value = await inner.get(id);
        arrived += 1;
        if (arrived === 2) release();
        await bothRead;
        return value;
      },
      list: () => inner.list(),
      put: (d: WebhookDefinition, v?: number) => inner.put(d, v),
      delete: (id) => inner.delete(id),
      disable: (id, v, at) => inner.disable(id, v, at),
      revision: () => inner.revision(),
    };
    const { api: plainApi } = setup();
    const first = await created(plainApi);
    const racing = apiHandlerFor(standIns());
    const api = client(
      apiHandlerFor(standIns(), { stores: { ...racing.deps.stores, webhooks: gated } }).handler,
    );
    const [a, b] = await Promise.all([
      api.put(`/webhooks/${first.id}`, { ...ledger, name: 'A' }),
      api.put(`/webhooks/${first.id}`, { ...ledger, name: 'B' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const winner = a.status === 200 ? 'A' : 'B';
    expect((await inner.get(first.id))?.name).toBe(winner);
  });
});

describe('deleting a webhook', () => {
  it('answers 204, then 404 for reads and repeated deletes', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', ledger);
    const del = await api.delete(`/webhooks/${res.body.id}`);
    expect(del.status).toBe(204);
    expect(del.rawBody).toBeUndefined();
    expect((await api.get(`/webhooks/${res.body.id}`)).status).toBe(404);
    expect((await api.delete(`/webhooks/${res.body.id}`)).status).toBe(404);
  });

  it('takes no input: a body other than {} is a 400 and deletes nothing', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', ledger);
    const path = `/webhooks/${res.body.id}`;
    const refused = await api.request({ method: 'DELETE', path, body: { x: 1 } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('VALIDATION_ERROR');
    expect((await api.get(path)).status).toBe(200);
    expect((await api.request({ method: 'DELETE', path, body: {} })).status).toBe(204);
    expect((await api.get(path)).status).toBe(404);
  });

  it('leaves only a tombstone, without definition or secret, that no webhook route shows', async () => {
    const { api } = setup();
    const res = await api.post('/webhooks', {
      ...ledger,
      auth: { type: 'basic', username: 'svc', password: 'kept-nowhere' },
      signingSecret: 'generate',
    });
    const deletedAt = Math.floor(Date.now() / 1000);
    expect((await api.delete(`/webhooks/${res.body.id}`)).status).toBe(204);

    const s = standIns();
    const raw = await s.clients.dynamo.send(
      new GetItemCommand({ TableName: s.tables.webhooks, Key: { id: { S: res.body.id } } }),
    );
    expect(Object.keys(raw.Item ?? {}).sort()).toEqual(['deletedAt', 'expiresAt', 'id']);
    // Kept while the deleted webhook's notifications are (RETENTION_DAYS), plus a margin.
    const expiresAt = Number(raw.Item?.expiresAt?.N);
    expect(expiresAt).toBeGreaterThan(deletedAt + DEFAULTS.retentionDays * 86_400);
    expect(expiresAt).toBeLessThan(deletedAt + (DEFAULTS.retentionDays + 30) * 86_400);

    const listed = await api.get('/webhooks');
    expect(listed.body.items.map((w: { id: string }) => w.id)).not.toContain(res.body.id);
    expect((await api.get(`/webhooks/${res.body.id}`)).status).toBe(404);
    expect((await api.put(`/webhooks/${res.body.id}`, ledger)).status).toBe(404);
    expect((await api.delete(`/webhooks/${res.body.id}`)).status).toBe(404);
  });
});

describe('listing webhooks', () => {
  it('pages definitions whose JSON would not fit one Lambda answer, every one once, oldest first', async () => {
    const { api } = setup();
    // Quote-heavy templates: escaped in the answer's JSON and again in the Lambda response.
    const body = `{"q": "${'\\"'.repeat(60_000)}"}`;
    const created: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await api.post('/webhooks', { ...ledger, name: `big ${i}`, body });
      expect(res.status).toBe(201);
      created.push(res.body.id);
    }

    const seen: { id: string; createdAt: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await api.get(`/webhooks${cursor ? `?cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      // What the Lambda returns to API Gateway, which refuses more than 6 MB.
      const lambdaResult = JSON.stringify({
        statusCode: res.status,
        headers: res.headers,
        body: res.rawBody,
      });
      expect(Buffer.byteLength(lambdaResult)).toBeLessThan(6 * 1024 * 1024);
      seen.push(
        ...res.body.items.map((w: { id: string; createdAt: string }) => ({
          id: w.id,
          createdAt: w.createdAt,
        })),
      );
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor !== null);

    expect(pages).toBeGreaterThan(1);
    const ids = seen.map((w) => w.id);
    expect(ids.filter((id) => created.includes(id)).sort()).toEqual([...created].sort());
    expect(new Set(ids).size).toBe(ids.length);
    // Oldest first, ties by id, across the pages.
    const order = seen.map((w) => `${w.createdAt} ${w.id}`);
    expect(order).toEqual([...order].sort());
  });

  it('answers 400 for a cursor that is not one of its own and for an unknown parameter', async () => {
    const { api } = setup();
    const bad = await api.get('/webhooks?cursor=not-a-cursor');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_CURSOR');
    const unknown = await api.get('/webhooks?limit=5');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('VALIDATION_ERROR');
    const types = await api.get('/event-types?cursor=not-a-cursor');
    expect(types.status).toBe(400);
    expect(types.body.error.code).toBe('INVALID_CURSOR');
  });
});

describe('previewing a webhook', () => {
  it('renders the request for the given event without sending or storing anything', async () => {
    const { api, stores } = setup();
    const created = await api.post('/webhooks', {
      ...ledger,
      auth: { type: 'basic', username: 'svc', password: 'preview-secret' },
      signingSecret: 'generate',
    });
    await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0);
    const res = await api.post(`/webhooks/${created.body.id}/preview`, {
      type: 'LOAN_DISBURSEMENT',
      id: 'evt-preview-1',
      data: { loanId: 'L-9', branch: 'north', amount: 12.5 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      method: 'POST',
      url: 'https://ledger.example.com/loans/L-9',
      headers: { 'X-Branch': 'north', 'Content-Type': 'application/json' },
      body: '{"loan": "L-9", "amount": 12.5}',
      matches: true,
      subscribed: true,
      failedRules: [],
    });
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('preview-secret');
    expect(text).not.toMatch(/webhook-signature|authorization/i);
    expect(await stores.notifications.list({ limit: 10 })).toEqual({ items: [], nextCursor: null });
    expect(await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0)).toEqual([]);
  });

  it('accepts an event with a subject as POST /events does, and refuses a bad one the same way', async () => {
    const { api } = setup();
    const created = await api.post('/webhooks', {
      name: 'subject',
      events: ['CLIENT_UPDATED'],
      url: 'https://x.example/clients/{{ data.id }}',
    });
    await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0);
    const path = `/webhooks/${created.body.id}/preview`;
    const ok = await api.post(path, {
      type: 'CLIENT_UPDATED',
      subject: 'client-7',
      data: { id: 7 },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.url).toBe('https://x.example/clients/7');
    const bad = await api.post(path, { type: 'CLIENT_UPDATED', subject: '', data: { id: 7 } });
    const ingest = client(ingestHandlerFor(standIns(), { definitionCacheTtlMs: 0 }).handler);
    const asEvent = await ingest.post('/events', { type: 'CLIENT_UPDATED', subject: '', data: {} });
    expect([bad.status, asEvent.status]).toEqual([400, 400]);
    expect(bad.body.error.details.map((d: { path: string }) => d.path)).toEqual(
      asEvent.body.error.details.map((d: { path: string }) => d.path),
    );
  });

  it('renders exactly what delivery will send, on the data as the queue carries it ({"id": 1e400})', async () => {
    const { api, stores } = setup();
    const created = await api.post('/webhooks', {
      name: 'overflow',
      events: ['LOAN_DISBURSEMENT'],
      url: 'https://x.example/path/{{ data.id }}',
      body: '{"id": {{ data.id | json }}, "zero": {{ data.zero | json }}}',
    });
    await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0);
    const raw = '{"type":"LOAN_DISBURSEMENT","id":"evt-overflow","data":{"id":1e400,"zero":-0}}';

    const preview = await api.post(`/webhooks/${created.body.id}/preview`, raw);
    const ingest = client(ingestHandlerFor(standIns(), { definitionCacheTtlMs: 0 }).handler);
    expect((await ingest.post('/events', raw)).status).toBe(202);
    const [job] = await drainQueue(standIns().clients.sqs, standIns().queueUrl);

    // Delivery renders the queued job exactly so (DeliveryService.deliver).
    expect(job?.kind).toBe('deliver');
    const deliver = job as Extract<DeliveryJob, { kind: 'deliver' }>;
    const def = (await stores.webhooks.get(created.body.id))!;
    const delivered = new Renderer().render(
      def,
      buildRenderContext(def, deliver.event, deliver.notificationId),
    );
    expect(preview.status).toBe(200);
    const { method, url, headers, body } = preview.body;
    expect({ method, url, headers, body }).toEqual(delivered);
    expect(preview.body.url).toBe('https://x.example/path/');
    expect(preview.body.body).toBe('{"id": null, "zero": 0}');
  });

  it('answers 413 PAYLOAD_TOO_LARGE, not the render, when the request would be more than a delivery sends', async () => {
    const { api } = setup();
    const created = await api.post('/webhooks', {
      name: 'repeats',
      events: ['LOAN_DISBURSEMENT'],
      url: 'https://x.example/hook',
      contentType: 'text/plain',
      body: '{% for i in (1..25) %}{{ data.x }}{% endfor %}',
    });
    expect(created.status).toBe(201);
    const preview = (x: string) =>
      api.post(`/webhooks/${created.body.id}/preview`, { type: 'LOAN_DISBURSEMENT', data: { x } });

    // 25 x 10,000 characters: 250,000 bytes, within the 262,144 a delivery sends.
    const within = await preview('y'.repeat(10_000));
    expect(within.status).toBe(200);
    expect(within.body.body).toHaveLength(250_000);

    // 25 x 40,000: a 1 MB render, which the preview used to answer in full.
    const over = await preview('y'.repeat(40_000));
    expect(over.status).toBe(413);
    expect(over.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(over.body.error.message).toMatch(/would be 1000\d{3} bytes, more than the 262144/);
    expect(JSON.stringify(over.body).length).toBeLessThan(1000);
  });

  it('shows a request of exactly 256 KiB and answers 413 PAYLOAD_TOO_LARGE for one byte more', async () => {
    const { api } = setup();
    const created = await api.post('/webhooks', {
      name: 'at the limit',
      events: ['LOAN_DISBURSEMENT'],
      url: 'https://x.example/hook',
      contentType: 'text/plain',
      body: '{{ data.x }}{{ data.x }}{{ data.pad }}',
    });
    expect(created.status).toBe(201);
    const preview = (x: string, pad: string) =>
      api.post(`/webhooks/${created.body.id}/preview`, {
        type: 'LOAN_DISBURSEMENT',
        data: { x, pad },
      });
    // What the request holds besides its body: method, url and header names and values.
    const empty = (await preview('', '')).body as {
      method: string;
      url: string;
      headers: Record<string, string>;
    };
    const overhead =
      empty.method.length +
      empty.url.length +
      Object.entries(empty.headers).reduce((n, [k, v]) => n + k.length + v.length, 0);
    const room = 256 * 1024 - overhead;
    const x = 'y'.repeat(Math.floor(room / 2));
    const pad = room % 2 === 1 ? 'p' : '';

    const exact = await preview(x, pad);
    expect(exact.status).toBe(200);
    expect(exact.body.body).toHaveLength(room);
    const over = await preview(x, `${pad}p`);
    expect(over.status).toBe(413);
    expect(over.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('renders with defaults when the body is empty', async () => {
    const { api } = setup();
    const created = await api.post('/webhooks', {
      name: 'd',
      events: ['ORDER_PLACED'],
      url: 'https://x.example/{{ event.type }}',
    });
    const res = await api.request({ method: 'POST', path: `/webhooks/${created.body.id}/preview` });
    expect(res.status).toBe(200);
    expect(res.body.url).toBe('https://x.example/ORDER_PLACED');
    expect(JSON.parse(res.body.body)).toMatchObject({ type: 'ORDER_PLACED', data: {} });
  });

  it('renders a webhook of "*" with the sample type, and one of "*" and a type with that type', async () => {
    const { api } = setup();
    const url = 'https://x.example/{{ event.type }}';
    const wildcard = await api.post('/webhooks', { name: 'w', events: ['*'], url });
    const sample = await api.request({
      method: 'POST',
      path: `/webhooks/${wildcard.body.id}/preview`,
    });
    expect(sample.status).toBe(200);
    expect(sample.body.url).toBe(`https://x.example/${sampleEvent().type}`);
    const mixed = await api.post('/webhooks', { name: 'm', events: ['*', 'ORDER_PLACED'], url });
    const typed = await api.request({ method: 'POST', path: `/webhooks/${mixed.body.id}/preview` });
    expect(typed.status).toBe(200);
    expect(typed.body.url).toBe('https://x.example/ORDER_PLACED');
  });

  it('answers TEMPLATE_ERROR when a strict template misses a variable, 400 for a bad event, 404 for an unknown webhook', async () => {
    const { api } = setup();
    const strict = await api.post('/webhooks', { ...ledger, strict: true });
    const missing = await api.post(`/webhooks/${strict.body.id}/preview`, {
      data: { loanId: 'x' },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('TEMPLATE_ERROR');
    const bad = await api.post(`/webhooks/${strict.body.id}/preview`, {
      data: [1],
      occurredAt: 'yesterday',
      extra: true,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_ERROR');
    expect(paths(bad)).toEqual(['extra']);
    const badEvent = await api.post(`/webhooks/${strict.body.id}/preview`, {
      data: [1],
      occurredAt: 'yesterday',
    });
    expect(badEvent.status).toBe(400);
    expect(paths(badEvent).sort()).toEqual(['data', 'occurredAt']);
    expect((await api.post('/webhooks/wh_nope/preview', {})).status).toBe(404);
  });
});
