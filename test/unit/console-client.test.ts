import { tokenTransport } from '../../console/src/api/auth';
import { ApiClient, ApiError, isMissingRoute } from '../../console/src/api/client';
import {
  type Behaviour,
  type ReceivedRequest,
  type Receiver,
  startReceiver,
} from '../support/receivers';

/** The console's API client over its local-mode transport, against a real server on 127.0.0.1. */
describe('console: the API client', () => {
  let api: Receiver;
  let refused: number;
  const client = () =>
    new ApiClient(
      api.url.replace(/\/$/, ''),
      tokenTransport('local-token', () => refused++),
    );
  const json = (status: number, body: unknown): ReturnType<Behaviour> => ({
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const last = (): ReceivedRequest => {
    const r = api.requests.at(-1);
    if (!r) throw new Error('no request arrived');
    return r;
  };

  beforeAll(async () => {
    api = await startReceiver(() => json(200, {}));
  });
  afterAll(() => api.close());
  beforeEach(() => {
    api.requests.length = 0;
    refused = 0;
  });

  it('puts path parameters in encoded, and leaves empty query values out', async () => {
    api.setBehaviour(() => json(200, { items: [], nextCursor: null }));
    await client().getNotification('evt 1/2?x');
    expect(last().url).toBe('/notifications/evt%201%2F2%3Fx');
    expect(last().method).toBe('GET');

    await client().listNotifications({
      webhookId: 'wh_1',
      status: '',
      eventType: undefined,
      limit: 0,
      cursor: 'a b',
    });
    const q = new URL(last().url, 'http://127.0.0.1').searchParams;
    expect([...q.keys()].sort()).toEqual(['cursor', 'limit', 'webhookId']);
    expect(q.get('limit')).toBe('0');
    expect(q.get('cursor')).toBe('a b');

    await client().listNotifications({});
    expect(last().url).toBe('/notifications');
  });

  it('sends the bearer token on every call, and a JSON body only with its content type', async () => {
    await client().pause('wh_1');
    expect(last()).toMatchObject({ method: 'POST', url: '/webhooks/wh_1/pause', body: '' });
    expect(last().headers.authorization).toBe('Bearer local-token');
    expect(last().headers['content-type']).toBeUndefined();

    await client().bulkResend({ webhookId: 'wh_1', from: 'a', to: 'b' } as never);
    expect(last()).toMatchObject({ method: 'POST', url: '/notifications/resend' });
    expect(JSON.parse(last().body)).toEqual({ webhookId: 'wh_1', from: 'a', to: 'b' });
    expect(last().headers['content-type']).toBe('application/json');
    expect(last().headers.authorization).toBe('Bearer local-token');
  });

  it('calls each route with its method', async () => {
    const c = client();
    const calls: [() => Promise<unknown>, string, string][] = [
      [() => c.getWebhook('w'), 'GET', '/webhooks/w'],
      [() => c.createWebhook({} as never), 'POST', '/webhooks'],
      [() => c.replaceWebhook('w', {} as never), 'PUT', '/webhooks/w'],
      [() => c.deleteWebhook('w'), 'DELETE', '/webhooks/w'],
      [() => c.preview('w', {} as never), 'POST', '/webhooks/w/preview'],
      [() => c.rotateSigningKey('w', {} as never), 'POST', '/webhooks/w/signing-secrets/rotate'],
      [() => c.health('w'), 'GET', '/webhooks/w/health'],
      [() => c.pause('w'), 'POST', '/webhooks/w/pause'],
      [() => c.resume('w'), 'POST', '/webhooks/w/resume'],
      [() => c.getNotification('n'), 'GET', '/notifications/n'],
      [() => c.resend('n'), 'POST', '/notifications/n/resend'],
      [() => c.bulkResend({} as never), 'POST', '/notifications/resend'],
      [() => c.resendJob('j'), 'GET', '/notifications/resend/j'],
      [() => c.senderIps(), 'GET', '/sender-ips'],
    ];
    for (const [call, method, url] of calls) {
      await call();
      expect([last().method, last().url]).toEqual([method, url]);
    }
  });

  it('reads every page of webhooks and event types, following nextCursor until there is none', async () => {
    const pages: Record<string, { items: string[]; nextCursor?: string | null }> = {
      '/webhooks': { items: ['a', 'b'], nextCursor: 'p2' },
      '/webhooks?cursor=p2': { items: ['c'], nextCursor: 'p3' },
      '/webhooks?cursor=p3': { items: [], nextCursor: null },
      '/event-types': { items: ['t1'], nextCursor: 'n' },
      '/event-types?cursor=n': { items: ['t2'] },
    };
    api.setBehaviour((req) => json(200, pages[req.url] ?? { items: ['unexpected'] }));
    expect(await client().listWebhooks()).toEqual({ items: ['a', 'b', 'c'] });
    expect(api.requests.map((r) => r.url)).toEqual([
      '/webhooks',
      '/webhooks?cursor=p2',
      '/webhooks?cursor=p3',
    ]);
    expect(await client().eventTypes()).toEqual({ items: ['t1', 't2'] });
  });

  it('resolves with the parsed body, and with nothing for an empty one', async () => {
    api.setBehaviour(() => json(200, { id: 'wh_1', name: 'x' }));
    expect(await client().getWebhook('wh_1')).toEqual({ id: 'wh_1', name: 'x' });
    api.setBehaviour(() => ({ status: 204 }));
    expect(await client().deleteWebhook('wh_1')).toBeUndefined();
  });

  it("throws the API's error code, message and details with the status", async () => {
    const details = [{ field: 'url', message: 'must be https' }];
    api.setBehaviour(() =>
      json(400, { error: { code: 'VALIDATION_ERROR', message: 'Invalid webhook', details } }),
    );
    const err = await client()
      .createWebhook({} as never)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({
      status: 400,
      code: 'VALIDATION_ERROR',
      message: 'Invalid webhook',
      details,
    });
    expect(refused).toBe(0);
  });

  it('names the status when the answer is not the API’s error shape', async () => {
    api.setBehaviour(() => ({ status: 502, body: '<html>bad gateway</html>' }));
    const err = await client()
      .getWebhook('w')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      status: 502,
      code: 'HTTP_502',
      message: 'Bad Gateway',
      details: [],
    });

    api.setBehaviour(() => json(500, { error: {} }));
    expect(
      await client()
        .getWebhook('w')
        .catch((e: unknown) => e),
    ).toMatchObject({
      status: 500,
      code: 'HTTP_500',
      message: 'Internal Server Error',
      details: [],
    });
  });

  it('signs out on a refused token, and only then', async () => {
    api.setBehaviour(() => json(401, { error: { code: 'UNAUTHORIZED', message: 'no' } }));
    await expect(client().senderIps()).rejects.toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(refused).toBe(1);
    api.setBehaviour(() => json(403, { error: { code: 'FORBIDDEN', message: 'no' } }));
    await expect(client().senderIps()).rejects.toMatchObject({ status: 403 });
    expect(refused).toBe(1);
  });

  it('says the API did not answer when no response came at all', async () => {
    api.setBehaviour(() => ({ kind: 'reset' }));
    // Node's fetch rejects with its own realm's TypeError; a page's fetch with the page's, the
    // one the client's module sees. The transport hands it on as the page's fetch would.
    const transport = tokenTransport('local-token');
    const c = new ApiClient(api.url.replace(/\/$/, ''), (method, url, body) =>
      transport(method, url, body).catch((e: Error) => {
        throw e.name === 'TypeError' ? new TypeError(e.message) : e;
      }),
    );
    const err = await c.getWebhook('w').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 0, code: 'NETWORK_ERROR' });
  });

  it('lets any other failure of the transport through as it is', async () => {
    const failure = new Error('signed out');
    const c = new ApiClient('http://127.0.0.1:1', () => Promise.reject(failure));
    await expect(c.getWebhook('w')).rejects.toBe(failure);
  });
});

describe('console: a route the API does not have', () => {
  it('is a 404 or a 405 from the API, nothing else', () => {
    expect(isMissingRoute(new ApiError(404, 'NOT_FOUND', 'x'))).toBe(true);
    expect(isMissingRoute(new ApiError(405, 'HTTP_405', 'x'))).toBe(true);
    expect(isMissingRoute(new ApiError(400, 'BAD', 'x'))).toBe(false);
    expect(isMissingRoute(new ApiError(0, 'NETWORK_ERROR', 'x'))).toBe(false);
    expect(isMissingRoute(Object.assign(new Error('x'), { status: 404 }))).toBe(false);
  });
});
