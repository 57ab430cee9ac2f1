/**
 * Local mode's front door: HTTP requests on 127.0.0.1 become API Gateway HTTP API (payload
 * format 2.0) events for the handlers; handler results become responses; a bearer token guards
 * every route but /health.
 */
import net from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import {
  type ApiServer,
  type HealthReport,
  listenApi,
  PortInUseError,
} from '../../local/api-server';

describe('local API server', () => {
  const servers: ApiServer[] = [];
  const blockers: net.Server[] = [];
  const TOKEN = 'test-token-123';

  async function serve(opts: {
    ingest?: (e: APIGatewayProxyEventV2) => Promise<APIGatewayProxyResultV2>;
    api?: (e: APIGatewayProxyEventV2) => Promise<APIGatewayProxyResultV2>;
    health?: () => Promise<HealthReport>;
    attach?: boolean;
  }) {
    const server = await listenApi(0);
    servers.push(server);
    const seen: { ingest: APIGatewayProxyEventV2[]; api: APIGatewayProxyEventV2[] } = {
      ingest: [],
      api: [],
    };
    if (opts.attach !== false) {
      server.attach({
        token: TOKEN,
        region: 'us-east-1',
        ingest: async (e) => {
          seen.ingest.push(e);
          return opts.ingest ? opts.ingest(e) : { statusCode: 202, body: '{}' };
        },
        api: async (e) => {
          seen.api.push(e);
          return opts.api
            ? opts.api(e)
            : {
                statusCode: 200,
                headers: { 'content-type': 'application/json' },
                body: '{"ok":true}',
              };
        },
        health: opts.health ?? (async () => ({ ok: true, components: { dynamodb: 'up' } })),
      });
    }
    return { server, seen };
  }

  const auth = { authorization: `Bearer ${TOKEN}` };

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    for (const b of blockers) b.close();
  });

  it('turns a request into a payload format 2.0 event for the ingest handler', async () => {
    const { server, seen } = await serve({});

    const res = await fetch(`${server.url}/events?x=1&x=2&y=%20z`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'X-Custom': 'v', cookie: 'a=1; b=2' },
      body: '{"type":"A"}',
    });

    expect(res.status).toBe(202);
    expect(seen.api).toHaveLength(0);
    const event = seen.ingest[0]!;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /events',
      rawPath: '/events',
      rawQueryString: 'x=1&x=2&y=%20z',
      queryStringParameters: { x: '1,2', y: ' z' },
      cookies: ['a=1', 'b=2'],
      body: '{"type":"A"}',
      isBase64Encoded: false,
      requestContext: {
        http: { method: 'POST', path: '/events', sourceIp: '127.0.0.1' },
        stage: '$default',
      },
    });
    expect(event.headers['x-custom']).toBe('v');
    expect(event.headers.cookie).toBeUndefined();
    expect(event.requestContext.requestId).toEqual(expect.any(String));
  });

  it('sends every other route to the api handler, binary bodies base64-encoded', async () => {
    const { server, seen } = await serve({});
    const bytes = Buffer.from([0xff, 0x00, 0xfe]);

    await fetch(`${server.url}/webhooks/wh_1`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    await fetch(`${server.url}/notifications`, { headers: auth });

    expect(seen.ingest).toHaveLength(0);
    expect(seen.api.map((e) => `${e.requestContext.http.method} ${e.rawPath}`)).toEqual([
      'PUT /webhooks/wh_1',
      'GET /notifications',
    ]);
    expect(seen.api[0]).toMatchObject({
      isBase64Encoded: true,
      body: bytes.toString('base64'),
      routeKey: '$default',
    });
    expect(seen.api[1]?.body).toBeUndefined();
  });

  it('maps handler results to responses: structured, plain value, base64 body, thrown error', async () => {
    const results: (() => Promise<APIGatewayProxyResultV2>)[] = [
      async () => ({
        statusCode: 201,
        headers: { Location: '/webhooks/wh_1', 'content-type': 'application/json' },
        body: '{"id":"wh_1"}',
      }),
      async () => ({ id: 'plain' }) as unknown as APIGatewayProxyResultV2,
      async () => ({
        statusCode: 200,
        body: Buffer.from('bin').toString('base64'),
        isBase64Encoded: true,
      }),
      async () => ({ statusCode: 204 }),
      async () => {
        throw new Error('secret internals');
      },
    ];
    let i = 0;
    const { server } = await serve({ api: () => results[i++]!() });

    const created = await fetch(`${server.url}/webhooks`, { method: 'POST', headers: auth });
    const plain = await fetch(`${server.url}/x`, { headers: auth });
    const binary = await fetch(`${server.url}/x`, { headers: auth });
    const empty = await fetch(`${server.url}/x`, { method: 'DELETE', headers: auth });
    const failed = await fetch(`${server.url}/x`, { headers: auth });

    expect([created.status, created.headers.get('location'), await created.json()]).toEqual([
      201,
      '/webhooks/wh_1',
      { id: 'wh_1' },
    ]);
    expect([plain.status, await plain.json()]).toEqual([200, { id: 'plain' }]);
    expect(await binary.text()).toBe('bin');
    expect(empty.status).toBe(204);
    const failedBody = await failed.text();
    expect(failed.status).toBe(500);
    expect(JSON.parse(failedBody)).toEqual({
      error: { code: 'INTERNAL_ERROR', message: 'Internal Server Error', details: [] },
    });
    expect(failedBody).not.toContain('secret internals');
  });

  it('sends no Content-Length and no body with 204 or 304, and 200 for a structured result without a status', async () => {
    const results: (() => Promise<APIGatewayProxyResultV2>)[] = [
      async () => ({ statusCode: 204, body: 'dropped' }),
      async () => ({ statusCode: 304, body: 'dropped' }),
      async () => ({ statusCode: undefined, body: 'kept' }) as unknown as APIGatewayProxyResultV2,
    ];
    let i = 0;
    const { server } = await serve({ api: () => results[i++]!() });

    const noContent = await fetch(`${server.url}/x`, { method: 'DELETE', headers: auth });
    const notModified = await fetch(`${server.url}/x`, { headers: auth });
    const unnamed = await fetch(`${server.url}/x`, { headers: auth });

    expect([
      noContent.status,
      noContent.headers.get('content-length'),
      await noContent.text(),
    ]).toEqual([204, null, '']);
    expect([
      notModified.status,
      notModified.headers.get('content-length'),
      await notModified.text(),
    ]).toEqual([304, null, '']);
    expect([unnamed.status, unnamed.headers.get('content-length'), await unnamed.text()]).toEqual([
      200,
      '4',
      'kept',
    ]);
  });

  it('answers 401 UNAUTHORIZED without the right bearer token, and /health without any', async () => {
    const { server, seen } = await serve({});

    const answers = await Promise.all(
      [
        undefined,
        'Bearer wrong',
        `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`,
        `Bearer ${TOKEN}x`,
      ].map((authorization) =>
        fetch(`${server.url}/events`, {
          method: 'POST',
          headers: authorization
            ? { authorization, 'content-type': 'application/json' }
            : { 'content-type': 'application/json' },
          body: '{}',
        }),
      ),
    );
    const health = await fetch(`${server.url}/health`);

    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.json()).toEqual({
        error: { code: 'UNAUTHORIZED', message: expect.any(String), details: [] },
      });
    }
    expect(seen.ingest).toHaveLength(0);
    expect([health.status, await health.json()]).toEqual([
      200,
      { status: 'ok', components: { dynamodb: 'up' } },
    ]);
  });

  it('reports 503 from /health when a component is down, and while starting', async () => {
    const { server: down } = await serve({
      health: async () => ({ ok: false, components: { dynamodb: 'up', sqs: 'down' } }),
    });
    const { server: starting } = await serve({ attach: false });

    const unhealthy = await fetch(`${down.url}/health`);
    const early = await fetch(`${starting.url}/health`);
    const earlyApi = await fetch(`${starting.url}/webhooks`, { headers: auth });

    expect([unhealthy.status, await unhealthy.json()]).toEqual([
      503,
      { status: 'unavailable', components: { dynamodb: 'up', sqs: 'down' } },
    ]);
    expect(early.status).toBe(503);
    expect([earlyApi.status, await earlyApi.json()]).toEqual([
      503,
      {
        error: {
          code: 'STARTING',
          message: 'The platform is starting; try again in a moment.',
          details: [],
        },
      },
    ]);
  });

  it('answers 413 PAYLOAD_TOO_LARGE in the API error shape to a body over 10 MiB, without calling a handler', async () => {
    const { server, seen } = await serve({});

    const res = await fetch(`${server.url}/events`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: Buffer.alloc(10 * 1024 * 1024 + 1, 0x20),
    });

    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        message: `Request body exceeds ${10 * 1024 * 1024} bytes.`,
        details: [],
      },
    });
    expect(seen.ingest).toHaveLength(0);
  });

  it('takes the bearer scheme in any case, only at the start of the header, and says what is missing', async () => {
    const { server, seen } = await serve({});
    const send = (authorization?: string) =>
      fetch(`${server.url}/webhooks`, { headers: authorization ? { authorization } : {} });

    const lower = await send(`bearer ${TOKEN}`);
    const prefixed = await send(`Token Bearer ${TOKEN}`);
    const missing = await send();

    expect(lower.status).toBe(200);
    expect(prefixed.status).toBe(401);
    expect(await missing.json()).toMatchObject({
      error: { message: 'Missing bearer token: send Authorization: Bearer <API_TOKEN>.' },
    });
    expect(seen.api).toHaveLength(1);
  });

  it('answers HEAD /health without a token, and 503 when the health check itself fails', async () => {
    const { server: up } = await serve({});
    const { server: broken } = await serve({
      health: async () => {
        throw new Error('dynamodb unreachable');
      },
    });

    const head = await fetch(`${up.url}/health`, { method: 'HEAD' });
    const failed = await fetch(`${broken.url}/health`);

    expect(head.status).toBe(200);
    expect([failed.status, await failed.json()]).toEqual([
      503,
      { status: 'unavailable', components: {} },
    ]);
  });

  it('routes only POST /events to ingest; GET /events goes to the api handler', async () => {
    const { server, seen } = await serve({});

    await fetch(`${server.url}/events`, { headers: auth });

    expect(seen.ingest).toHaveLength(0);
    expect(seen.api.map((e) => [e.requestContext.http.method, e.rawPath, e.routeKey])).toEqual([
      ['GET', '/events', '$default'],
    ]);
  });

  it('passes text bodies as text only when they are valid UTF-8, and no body as not base64', async () => {
    const { server, seen } = await serve({});
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);

    await fetch(`${server.url}/events`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: latin1,
    });
    await fetch(`${server.url}/events`, { method: 'POST', headers: auth });

    expect(seen.ingest.map((e) => [e.body, e.isBase64Encoded])).toEqual([
      [latin1.toString('base64'), true],
      [undefined, false],
    ]);
  });

  it('drops empty cookie pieces and sends the cookies a handler returns as Set-Cookie', async () => {
    const { server, seen } = await serve({
      api: async () => ({ statusCode: 200, cookies: ['s=1; Path=/', 't=2'], body: '' }),
    });

    const res = await fetch(`${server.url}/x`, { headers: { ...auth, cookie: 'a=1; ; b=2;' } });

    expect(seen.api[0]?.cookies).toEqual(['a=1', 'b=2']);
    expect(res.headers.getSetCookie()).toEqual(['s=1; Path=/', 't=2']);
  });

  it('accepts a body of exactly 10 MiB', async () => {
    const { server, seen } = await serve({});

    const res = await fetch(`${server.url}/events`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: Buffer.alloc(10 * 1024 * 1024, 0x20),
    });

    expect(res.status).toBe(202);
    expect(seen.ingest[0]?.body).toHaveLength(10 * 1024 * 1024);
  });

  it('fails with PortInUseError naming the port and PORT when the port is taken', async () => {
    const blocker = net.createServer();
    blockers.push(blocker);
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)),
    );

    const attempt = listenApi(port);

    await expect(attempt).rejects.toBeInstanceOf(PortInUseError);
    await expect(attempt).rejects.toThrow(
      new RegExp(`Port ${port} on 127.0.0.1 is already in use.*PORT`),
    );
  });
});
