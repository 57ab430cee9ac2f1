/**
 * The undici sender against real receivers on 127.0.0.1 / ::1. Refusals are shown only with
 * loopback targets: the guard refuses them unless the policy allow-lists loopback.
 */
import http from 'node:http';
import net from 'node:net';
import {
  classifyNetworkError,
  createGuardedConnector,
  createHttpSender,
  EgressBlockedError,
  guardedLookup,
  type HttpSenderOptions,
} from '../../lambdas/adapters/http-sender';
import type { EgressPolicy } from '../../lambdas/core/egress';
import type { HttpResult, OutgoingRequest } from '../../lambdas/ports';
import {
  type Behaviour,
  failTimes,
  gone,
  hang,
  huge,
  ok,
  type Receiver,
  type ReceiverOptions,
  redirectTo,
  reset,
  retryAfter,
  slowBody,
  startReceiver,
} from '../support/receivers';

const LOOPBACK: EgressPolicy = { allowHttp: true, allowCidrs: ['127.0.0.0/8', '::1/128'] };
const NO_EXCEPTIONS: EgressPolicy = { allowHttp: true, allowCidrs: [] };

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(behaviour: Behaviour, options?: ReceiverOptions): Promise<Receiver> {
  const r = await startReceiver(behaviour, options);
  cleanups.push(() => r.close());
  return r;
}

function sender(options: Partial<HttpSenderOptions> = {}): ReturnType<typeof createHttpSender> {
  const s = createHttpSender({ policy: LOOPBACK, ...options });
  cleanups.push(() => s.close());
  return s;
}

function post(
  url: string,
  body = '{"hello":"world"}',
  headers: Record<string, string> = {},
): OutgoingRequest {
  return { method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, body };
}

/** A lookup that answers from a table and counts its calls (names never reach real DNS). */
function fakeLookup(table: Record<string, string[]>) {
  const calls: string[] = [];
  const lookup = async (hostname: string) => {
    calls.push(hostname);
    const list = table[hostname];
    if (!list)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({
      address,
      family: address.includes(':') ? (6 as const) : (4 as const),
    }));
  };
  return { lookup, calls };
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** TLS named groups (IANA): the hybrid post-quantum one and the classical ones offered. */
const X25519MLKEM768 = 0x11ec;
const X25519 = 0x001d;
const SECP256R1 = 0x0017;

/**
 * A TCP relay on 127.0.0.1 to a loopback receiver that keeps each connection's first TLS
 * record, the client's hello, as sent. `target` may be changed: later connections go there.
 */
async function helloRelay(
  targetPort: number,
): Promise<{ port: number; hellos: Buffer[]; target: number }> {
  const hellos: Buffer[] = [];
  const relay = { port: 0, hellos, target: targetPort };
  const server = net.createServer((client) => {
    const upstream = net.connect(relay.target, '127.0.0.1');
    let head = Buffer.alloc(0);
    const keepHello = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < 5 || head.length < 5 + head.readUInt16BE(3)) return;
      hellos.push(head.subarray(0, 5 + head.readUInt16BE(3)));
      client.off('data', keepHello);
    };
    client.on('data', keepHello);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  relay.port = (server.address() as net.AddressInfo).port;
  return relay;
}

/** A receiver's answer that closes its connection, so that every send makes a new handshake. */
const closing = () => ok('secure', { connection: 'close' });

/** `times` sends to receiver.test through `relay`, each answered 200 `secure`. */
async function sendsThrough(
  relay: { port: number },
  s: ReturnType<typeof createHttpSender>,
  times: number,
): Promise<void> {
  for (let i = 0; i < times; i++) {
    const result = await s.send(post(`https://receiver.test:${relay.port}/`));
    expect(result).toMatchObject({ kind: 'response', statusCode: 200, body: 'secure' });
  }
}

/**
 * The groups a ClientHello record lists (supported_groups) and sends key shares for (key_share),
 * and whether it offers a session to resume (pre_shared_key).
 */
function offeredGroups(record: Buffer): { supported: number[]; keyShares: number[]; psk: boolean } {
  expect(record[0]).toBe(22); // handshake record
  expect(record[5]).toBe(1); // client_hello
  let p = 5 + 4 + 2 + 32; // record and handshake headers, legacy version, random
  p += 1 + record[p]!; // session id
  p += 2 + record.readUInt16BE(p); // cipher suites
  p += 1 + record[p]!; // compression methods
  const end = p + 2 + record.readUInt16BE(p);
  p += 2;
  const supported: number[] = [];
  const keyShares: number[] = [];
  let psk = false;
  while (p < end) {
    const type = record.readUInt16BE(p);
    const body = p + 4;
    if (type === 41) psk = true;
    if (type === 10) {
      const listEnd = body + 2 + record.readUInt16BE(body);
      for (let q = body + 2; q < listEnd; q += 2) supported.push(record.readUInt16BE(q));
    } else if (type === 51) {
      const sharesEnd = body + 2 + record.readUInt16BE(body);
      for (let q = body + 2; q < sharesEnd; q += 4 + record.readUInt16BE(q + 2))
        keyShares.push(record.readUInt16BE(q));
    }
    p = body + record.readUInt16BE(p + 2);
  }
  return { supported, keyShares, psk };
}

function expectError(
  result: HttpResult,
  error: string,
): asserts result is Extract<HttpResult, { kind: 'error' }> {
  expect(result).toMatchObject({ kind: 'error', error });
}

function expectResponse(
  result: HttpResult,
): asserts result is Extract<HttpResult, { kind: 'response' }> {
  expect(result.kind).toBe('response');
}

describe('responses', () => {
  it('delivers method, path, headers and body, and returns status, headers and body', async () => {
    const r = await receiver(() => ({
      status: 201,
      headers: { 'x-receipt': 'r-1' },
      body: 'accepted',
    }));
    const result = await sender().send({
      method: 'PUT',
      url: `${r.url}/hooks/loans?branch=7`,
      headers: { 'content-type': 'application/json', 'webhook-id': 'ntf_1' },
      body: '{"loan":42}',
    });
    expectResponse(result);
    expect(result).toMatchObject({ statusCode: 201, body: 'accepted' });
    expect(result.headers['x-receipt']).toBe('r-1');
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0]).toMatchObject({
      method: 'PUT',
      url: '/hooks/loans?branch=7',
      body: '{"loan":42}',
    });
    expect(r.requests[0]?.headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': 'ntf_1',
    });
  });

  it('keeps only the first 1 KiB of a larger body', async () => {
    const big = 'abcdefghij'.repeat(500);
    const r = await receiver(() => ({ status: 200, body: big }));
    const result = await sender().send(post(r.url));
    expectResponse(result);
    expect(result.body).toBe(big.slice(0, 1024));
  });

  it('drops a multi-byte character cut by the cap instead of garbling it', async () => {
    const r = await receiver(() => ({ status: 200, body: `a${'é'.repeat(1000)}` }));
    const result = await sender().send(post(r.url));
    expectResponse(result);
    // 1 + 2 * 511 = 1023 bytes fit; the 512th 'é' would straddle the cap.
    expect(result.body).toBe(`a${'é'.repeat(511)}`);
  });

  it('keeps at most 1 KiB of UTF-8 of a body that is not UTF-8 (each bad byte decodes to U+FFFD)', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(3000, 0xff));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as net.AddressInfo;
    const result = await sender().send(post(`http://127.0.0.1:${port}/`));
    expectResponse(result);
    // 1024 bytes read, 1024 U+FFFD decoded (3,072 bytes of UTF-8): 341 whole ones kept.
    expect(result.body).toBe('\uFFFD'.repeat(341));
    expect(Buffer.byteLength(result.body, 'utf8')).toBeLessThanOrEqual(1024);
  });

  it('honours a configured cap', async () => {
    const r = await receiver(() => ({ status: 200, body: 'x'.repeat(100) }));
    const result = await sender({ maxResponseBytes: 10 }).send(post(r.url));
    expectResponse(result);
    expect(result.body).toBe('x'.repeat(10));
  });

  it('returns non-2xx statuses as responses (the caller decides what failed)', async () => {
    const r = await receiver(failTimes(1, 500));
    const s = sender();
    const first = await s.send(post(r.url));
    const second = await s.send(post(r.url));
    expect(first).toMatchObject({ kind: 'response', statusCode: 500, body: 'failure 1' });
    expect(second).toMatchObject({ kind: 'response', statusCode: 200, body: 'ok' });
  });

  it('passes Retry-After through and returns 410 as is', async () => {
    const limited = await receiver(retryAfter(120));
    const goneR = await receiver(gone());
    const s = sender();
    const a = await s.send(post(limited.url));
    const b = await s.send(post(goneR.url));
    expectResponse(a);
    expect(a.statusCode).toBe(429);
    expect(a.headers['retry-after']).toBe('120');
    expect(b).toMatchObject({ kind: 'response', statusCode: 410, body: 'gone' });
  });

  it('does not follow redirects: the 3xx is the result and the target sees nothing', async () => {
    const target = await receiver(ok());
    const r = await receiver(redirectTo(`${target.url}/elsewhere`, 307));
    const result = await sender().send(post(r.url));
    expectResponse(result);
    expect(result.statusCode).toBe(307);
    expect(result.headers.location).toBe(`${target.url}/elsewhere`);
    expect(target.requests).toHaveLength(0);
    expect(target.connections).toBe(0);
  });
});

describe('timeouts', () => {
  it('ends as TIMEOUT when the receiver never answers', async () => {
    const r = await receiver(hang());
    const result = await sender({ totalTimeoutMs: 300 }).send(post(r.url));
    expectError(result, 'TIMEOUT');
    expect(result.message).toMatch(/300 ms/);
    expect(r.requests).toHaveLength(1);
  });

  it('ends as TIMEOUT when headers arrive but the body is slower than the total timeout', async () => {
    const r = await receiver(slowBody(100));
    const result = await sender({ totalTimeoutMs: 400 }).send(post(r.url));
    expectError(result, 'TIMEOUT');
  });

  it('ends as TIMEOUT when the receiver trickles its status line and headers slower than the total timeout', async () => {
    // Each byte comes well within any inactivity timeout; only the total timeout can end it.
    const sockets = new Set<net.Socket>();
    const timers = new Set<NodeJS.Timeout>();
    let sent = 0;
    const trickler = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('data', () => {
        const head = `HTTP/1.1 200 OK\r\nX-Pad: ${'a'.repeat(10_000)}\r\n`;
        let i = 0;
        const timer = setInterval(() => {
          if (socket.destroyed || i >= head.length) return clearInterval(timer);
          socket.write(head[i++]!);
          sent++;
        }, 20);
        timers.add(timer);
      });
    });
    await new Promise<void>((resolve) => trickler.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => trickler.close(resolve));
    });
    const { port } = trickler.address() as net.AddressInfo;

    const result = await sender({ totalTimeoutMs: 400 }).send(post(`http://127.0.0.1:${port}/`));

    expectError(result, 'TIMEOUT');
    expect(result.message).toMatch(/400 ms/);
    expect(sent).toBeGreaterThan(0);
  });

  it('ends as TIMEOUT when the receiver never reads the request body', async () => {
    const r = await receiver(hang(), { readBody: false });
    const result = await sender({ totalTimeoutMs: 400 }).send(post(r.url, 'x'.repeat(256 * 1024)));
    expectError(result, 'TIMEOUT');
  });

  it('ends as TIMEOUT within the connect timeout when the lookup never answers', async () => {
    const r = await receiver(ok());
    let lookups = 0;
    const lookup = () => {
      lookups += 1;
      return new Promise<never>(() => undefined);
    };
    const result = await sender({ connectTimeoutMs: 200, totalTimeoutMs: 30_000, lookup }).send(
      post(`http://stuck.test:${r.port}/`),
    );
    expectError(result, 'TIMEOUT');
    expect(result.message).toMatch(/connect/i);
    expect(lookups).toBe(1);
    expect(r.connections).toBe(0);
  });

  it('gives a connection 5 s and the whole exchange 15 s by default, as the delivery rules say', async () => {
    const r = await receiver(hang());
    const lookup = () => new Promise<never>(() => undefined);
    const [connect, total] = await Promise.all([
      sender({ lookup }).send(post(`http://stuck.test:${r.port}/`)),
      sender().send(post(r.url)),
    ]);
    expectError(connect, 'TIMEOUT');
    expect(connect.message).toMatch(/connect.*\b5000 ?ms/i);
    expectError(total, 'TIMEOUT');
    expect(total.message).toMatch(/\b15000 ms/);
  });

  it('keeps delivering after a timed-out exchange', async () => {
    // Timed out while the name never resolves (a TIMEOUT whatever the machine's speed), then an
    // ordinary exchange on the same sender: a loopback connect is one system call, far inside
    // the connect budget, and the total budget is the product's order of magnitude.
    const r = await receiver(ok());
    const lookup = () => new Promise<never>(() => undefined);
    const s = sender({ connectTimeoutMs: 1000, totalTimeoutMs: 30_000, lookup });
    expectError(await s.send(post(`http://stuck.test:${r.port}/`)), 'TIMEOUT');
    expect(r.connections).toBe(0);
    r.setBehaviour(ok('back'));
    expect(await s.send(post(r.url))).toMatchObject({
      kind: 'response',
      statusCode: 200,
      body: 'back',
    });
  });
});

describe('connection failures', () => {
  it('maps a reset connection to CONNECTION_ERROR', async () => {
    const r = await receiver(reset());
    const result = await sender().send(post(r.url));
    expectError(result, 'CONNECTION_ERROR');
    expect(r.requests).toHaveLength(1);
  });

  it('maps a refused connection to CONNECTION_ERROR', async () => {
    const r = await startReceiver(ok());
    const url = r.url;
    await r.close();
    const result = await sender().send(post(url));
    expectError(result, 'CONNECTION_ERROR');
    expect(result.message).toMatch(/ECONNREFUSED/);
  });

  it('maps a name that does not resolve to CONNECTION_ERROR', async () => {
    const { lookup } = fakeLookup({});
    const result = await sender({ lookup }).send(post('http://nowhere.test/'));
    expectError(result, 'CONNECTION_ERROR');
    expect(result.message).toMatch(/ENOTFOUND/);
  });

  it('maps a response that is not HTTP to CONNECTION_ERROR', async () => {
    const sockets = new Set<net.Socket>();
    const garbage = net.createServer((socket) => {
      sockets.add(socket);
      socket.end('this is not http\r\n\r\n');
    });
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => garbage.close(resolve));
    });
    const { port } = garbage.address() as net.AddressInfo;
    const result = await sender().send(post(`http://127.0.0.1:${port}/`));
    expectError(result, 'CONNECTION_ERROR');
  });
});

describe('TLS', () => {
  it('refuses an untrusted (self-signed) certificate with TLS_ERROR and sends nothing', async () => {
    const r = await receiver(ok(), { tls: true });
    const result = await sender().send(post(r.url));
    expectError(result, 'TLS_ERROR');
    expect(r.requests).toHaveLength(0);
  });

  it('delivers over TLS 1.2 or newer when the certificate is trusted', async () => {
    const r = await receiver(ok('secure'), { tls: true });
    const result = await sender({ ca: r.ca }).send(post(r.url));
    expect(result).toMatchObject({ kind: 'response', statusCode: 200, body: 'secure' });
    expect(['TLSv1.2', 'TLSv1.3']).toContain(r.requests[0]?.tlsProtocol);
  });

  it('connects to the checked address but sends the URL host as SNI and verifies the certificate against it', async () => {
    const r = await receiver(ok(), { tls: true });
    const { lookup, calls } = fakeLookup({
      'receiver.test': ['127.0.0.1'],
      'other.test': ['127.0.0.1'],
    });
    const s = sender({ ca: r.ca, lookup });
    const good = await s.send(post(`https://receiver.test:${r.port}/`));
    expect(good).toMatchObject({ kind: 'response', statusCode: 200 });
    expect(r.requests[0]?.servername).toBe('receiver.test');
    expect(r.requests[0]?.headers.host).toBe(`receiver.test:${r.port}`);
    const mismatch = await s.send(post(`https://other.test:${r.port}/`));
    expectError(mismatch, 'TLS_ERROR');
    expect(calls).toEqual(['receiver.test', 'other.test']);
    expect(r.requests).toHaveLength(1);
  });

  it('refuses a server that only speaks TLS 1.1', async () => {
    const r = await receiver(ok(), { tls: true, tlsMaxVersion: 'TLSv1.1' });
    const result = await sender({ ca: r.ca }).send(post(r.url));
    expectError(result, 'TLS_ERROR');
    expect(r.requests).toHaveLength(0);
  });

  it('offers the hybrid post-quantum key exchange by default and only classical groups when told', async () => {
    const r = await receiver(ok('secure'), { tls: true });
    const relay = await helloRelay(r.port);
    for (const keyExchange of [undefined, 'hybrid', 'classical'] as const) {
      const { lookup } = fakeLookup({ 'receiver.test': ['127.0.0.1'] });
      const s = sender({ ca: r.ca, lookup, ...(keyExchange ? { keyExchange } : {}) });
      const result = await s.send(post(`https://receiver.test:${relay.port}/`));
      // The handshake completes through the relay either way.
      expect(result).toMatchObject({ kind: 'response', statusCode: 200, body: 'secure' });
      const hello = offeredGroups(relay.hellos.at(-1)!);
      if (keyExchange === 'classical') {
        expect(hello.keyShares).toEqual([X25519]);
        expect(hello.supported).not.toContain(X25519MLKEM768);
        expect(hello.supported).toEqual(expect.arrayContaining([X25519, SECP256R1]));
      } else {
        expect(hello.keyShares).toEqual(expect.arrayContaining([X25519MLKEM768, X25519]));
        expect(hello.supported[0]).toBe(X25519MLKEM768);
      }
    }
    expect(relay.hellos).toHaveLength(3);
  });

  describe('key-share prediction', () => {
    const CLASSICAL_SERVER = 'X25519:P-256';

    it('sends a receiver that chose a classical group the X25519 share only, listing the same groups', async () => {
      const r = await receiver(closing(), { tls: true, tlsGroups: CLASSICAL_SERVER });
      const relay = await helloRelay(r.port);
      const { lookup } = fakeLookup({ 'receiver.test': ['127.0.0.1'] });
      await sendsThrough(relay, sender({ ca: r.ca, lookup }), 3);
      const [first, ...later] = relay.hellos.map((h) => ({ bytes: h.length, ...offeredGroups(h) }));
      expect(first?.keyShares).toEqual([X25519MLKEM768, X25519]);
      expect(later).toHaveLength(2);
      for (const hello of later) {
        expect(hello.keyShares).toEqual([X25519]);
        expect(hello.supported).toEqual(first?.supported);
        expect(hello.supported[0]).toBe(X25519MLKEM768);
        // The hybrid share is 1,216 bytes of the first hello (a resumed one adds a ticket).
        expect(hello.bytes).toBeLessThan((first?.bytes ?? 0) - 900);
      }
    });

    it('keeps the hybrid share for a classical receiver when told not to predict', async () => {
      const classical = await receiver(closing(), { tls: true, tlsGroups: CLASSICAL_SERVER });
      const relay = await helloRelay(classical.port);
      const { lookup } = fakeLookup({ 'receiver.test': ['127.0.0.1'] });
      await sendsThrough(relay, sender({ ca: classical.ca, lookup, predictKeyShares: false }), 3);
      for (const hello of relay.hellos)
        expect(offeredGroups(hello).keyShares).toEqual([X25519MLKEM768, X25519]);
      expect(relay.hellos).toHaveLength(3);
      expect(classical.requests.map((r) => r.tlsResumed)).toEqual([false, true, true]);
    });

    it('takes the hybrid group again when a remembered receiver gains it, then sends its share at once', async () => {
      const classical = await receiver(closing(), { tls: true, tlsGroups: CLASSICAL_SERVER });
      // Accepts nothing but the hybrid group: a handshake with it is post-quantum or fails.
      const hybridOnly = await receiver(closing(), { tls: true, tlsGroups: 'X25519MLKEM768' });
      const relay = await helloRelay(classical.port);
      const { lookup } = fakeLookup({ 'receiver.test': ['127.0.0.1'] });
      const s = sender({ ca: classical.ca, lookup });
      await sendsThrough(relay, s, 2);
      expect(offeredGroups(relay.hellos[1]!).keyShares).toEqual([X25519]);
      relay.target = hybridOnly.port;
      // Listed without a share: the receiver asks for it (HelloRetryRequest) and gets it.
      await sendsThrough(relay, s, 3);
      const hellos = relay.hellos.map(offeredGroups);
      expect(hellos[2]?.keyShares).toEqual([X25519]);
      expect(hellos[2]?.supported[0]).toBe(X25519MLKEM768);
      // Its session, made with the hybrid group, is offered with the classical groups only,
      // which this receiver cannot take: that handshake fails, and the hybrid hello follows.
      expect(hellos[3]).toMatchObject({ keyShares: [X25519], psk: true });
      expect(hellos[3]?.supported).not.toContain(X25519MLKEM768);
      expect(hellos[4]).toMatchObject({ keyShares: [X25519MLKEM768, X25519], psk: false });
      // From then on it resumes with the hybrid share.
      expect(hellos[5]).toMatchObject({ keyShares: [X25519MLKEM768, X25519], psk: true });
      expect(hellos).toHaveLength(6);
      expect(hybridOnly.requests.map((r) => r.tlsResumed)).toEqual([false, false, true]);
    });

    it('forgets a prediction whose handshake failed, and starts again from the full hello', async () => {
      const classical = await receiver(closing(), { tls: true, tlsGroups: CLASSICAL_SERVER });
      const relay = await helloRelay(classical.port);
      const { lookup } = fakeLookup({ 'receiver.test': ['127.0.0.1'] });
      const s = sender({ ca: classical.ca, lookup });
      await sendsThrough(relay, s, 2);
      // A server that accepts no group the sender offers: the predicted handshake fails.
      const none = await receiver(closing(), { tls: true, tlsGroups: 'ffdhe8192' });
      relay.target = none.port;
      expectError(await s.send(post(`https://receiver.test:${relay.port}/`)), 'TLS_ERROR');
      relay.target = classical.port;
      await sendsThrough(relay, s, 1);
      expect(relay.hellos.map((h) => offeredGroups(h).keyShares)).toEqual([
        [X25519MLKEM768, X25519],
        [X25519],
        [X25519],
        [X25519MLKEM768, X25519],
      ]);
    });
  });

  describe('resuming post-quantum sessions', () => {
    it('resumes a session made with the hybrid group offering the classical groups only', async () => {
      const r = await receiver(closing(), { tls: true });
      const relay = await helloRelay(r.port);
      const { lookup } = fakeLookup({ 'receiver.test': ['127.0.0.1'] });
      await sendsThrough(relay, sender({ ca: r.ca, lookup }), 3);
      const [first, ...later] = relay.hellos.map((h) => ({ bytes: h.length, ...offeredGroups(h) }));
      expect(first).toMatchObject({ keyShares: [X25519MLKEM768, X25519], psk: false });
      expect(later).toHaveLength(2);
      for (const hello of later) {
        expect(hello).toMatchObject({ keyShares: [X25519], psk: true });
        expect(hello.supported).not.toContain(X25519MLKEM768);
        expect(hello.supported).toEqual(expect.arrayContaining([X25519, SECP256R1]));
        // Without the 1,216-byte hybrid share, ticket and all.
        expect(hello.bytes).toBeLessThan((first?.bytes ?? 0) - 400);
      }
      expect(r.requests.map((q) => q.tlsResumed)).toEqual([false, true, true]);
    });

    it('offers the hybrid share on resumptions too with hybridEveryHandshake', async () => {
      const r = await receiver(closing(), { tls: true });
      const relay = await helloRelay(r.port);
      const { lookup } = fakeLookup({ 'receiver.test': ['127.0.0.1'] });
      await sendsThrough(
        relay,
        sender({ ca: r.ca, lookup, keyExchange: 'hybridEveryHandshake' }),
        3,
      );
      expect(relay.hellos.map(offeredGroups)).toEqual([
        expect.objectContaining({ keyShares: [X25519MLKEM768, X25519], psk: false }),
        expect.objectContaining({ keyShares: [X25519MLKEM768, X25519], psk: true }),
        expect.objectContaining({ keyShares: [X25519MLKEM768, X25519], psk: true }),
      ]);
      expect(r.requests.map((q) => q.tlsResumed)).toEqual([false, true, true]);
    });

    it('drops a connection whose classical resumption was refused before sending on it, and opens a hybrid one', async () => {
      const first = await receiver(closing(), { tls: true });
      // Another server behind the same name, with other ticket keys: it refuses the session.
      const other = await receiver(closing(), { tls: true });
      const relay = await helloRelay(first.port);
      const { lookup } = fakeLookup({ 'receiver.test': ['127.0.0.1'] });
      const s = sender({ ca: first.ca, lookup });
      await sendsThrough(relay, s, 1);
      relay.target = other.port;
      await sendsThrough(relay, s, 2);
      const hellos = relay.hellos.map(offeredGroups);
      expect(hellos[1]).toMatchObject({ keyShares: [X25519], psk: true });
      // The refused resumption ended as a classical handshake: dropped, the hybrid hello follows.
      expect(hellos[2]).toMatchObject({ keyShares: [X25519MLKEM768, X25519], psk: false });
      // This receiver refused once: its sessions are resumed with the hybrid share from then on.
      expect(hellos[3]).toMatchObject({ keyShares: [X25519MLKEM768, X25519], psk: true });
      expect(hellos).toHaveLength(4);
      // Nothing was sent on the dropped connection: one request per send, none repeated.
      expect(other.requests.map((q) => q.tlsResumed)).toEqual([false, true]);
      expect(first.requests).toHaveLength(1);
    });

    it('sends nothing more when the classical resumption cannot connect at all', async () => {
      const r = await receiver(closing(), { tls: true });
      const relay = await helloRelay(r.port);
      const { lookup } = fakeLookup({ 'receiver.test': ['127.0.0.1'] });
      const s = sender({ ca: r.ca, lookup });
      await sendsThrough(relay, s, 1);
      // A port nothing listens on: the connection is refused, which no handshake can mend.
      const closed = net.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as net.AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      relay.target = port;
      const down = await s.send(post(`https://receiver.test:${relay.port}/`));
      expect(down).toMatchObject({ kind: 'error' });
      // One connection for that send, the classical resumption: no second try with the hybrid hello.
      expect(relay.hellos).toHaveLength(2);
      expect(offeredGroups(relay.hellos[1]!)).toMatchObject({ keyShares: [X25519], psk: true });
      relay.target = r.port;
      await sendsThrough(relay, s, 1);
      // The session was kept: the receiver being down is no refusal of the classical resumption.
      expect(offeredGroups(relay.hellos[2]!)).toMatchObject({ keyShares: [X25519], psk: true });
      expect(r.requests.map((q) => q.tlsResumed)).toEqual([false, true]);
    });

    it('keeps and resumes TLS 1.2 sessions, whose ticket comes with the handshake', async () => {
      const r = await receiver(closing(), { tls: true, tlsMaxVersion: 'TLSv1.2' });
      const { lookup } = fakeLookup({ 'receiver.test': ['127.0.0.1'] });
      await sendsThrough({ port: r.port }, sender({ ca: r.ca, lookup }), 3);
      expect(r.requests.map((q) => [q.tlsProtocol, q.tlsResumed])).toEqual([
        ['TLSv1.2', false],
        ['TLSv1.2', true],
        ['TLSv1.2', true],
      ]);
    });
  });

  it('maps https to a plain-http receiver to TLS_ERROR', async () => {
    const r = await receiver(ok());
    const result = await sender().send(post(r.url.replace('http:', 'https:')));
    expectError(result, 'TLS_ERROR');
  });
});

describe('huge responses', () => {
  it('stops reading a 100 MiB body at the cap and closes the connection', async () => {
    const r = await receiver(huge(100 * 1024 * 1024));
    const s = sender();
    const result = await s.send(post(r.url));
    expectResponse(result);
    expect(result.statusCode).toBe(200);
    expect(result.body).toBe('a'.repeat(1024));
    // The stream ends without completing only when its connection closes.
    const stream = r.streamed[0];
    await stream?.ended;
    expect(stream?.completed).toBe(false);
    expect(stream?.bytesWritten).toBeLessThan(100 * 1024 * 1024);
    r.setBehaviour(ok());
    expect(await s.send(post(r.url))).toMatchObject({ kind: 'response', statusCode: 200 });
  });
});

describe('keep-alive', () => {
  it('reuses one connection for sequential sends', async () => {
    const r = await receiver(ok());
    const s = sender();
    for (let i = 0; i < 5; i++) {
      expect(await s.send(post(r.url))).toMatchObject({ kind: 'response', statusCode: 200 });
      // undici hands a socket back to the pool one event-loop turn after a response.
      await nextTurn();
    }
    expect(r.requests).toHaveLength(5);
    expect(r.connections).toBe(1);
  });

  it('opens parallel connections for concurrent sends and reuses them afterwards', async () => {
    const r = await receiver(ok());
    const s = sender();
    const wave = () => Promise.all([1, 2, 3, 4].map(() => s.send(post(r.url))));
    await wave();
    await nextTurn();
    const second = await wave();
    expect(second.every((x) => x.kind === 'response' && x.statusCode === 200)).toBe(true);
    expect(r.requests).toHaveLength(8);
    expect(r.connections).toBe(4);
  });

  it('starts on fresh connections after the event loop was paused (a Lambda freeze), and reuses them otherwise', async () => {
    const r = await receiver(ok());
    // The pause is made by the test (a busy wait longer than the threshold, so it always counts
    // as one); the threshold is far above any gap the loop makes between two loopback sends.
    const s = sender({ recycleAfterPauseMs: 1500 });
    expect(await s.send(post(r.url))).toMatchObject({ kind: 'response', statusCode: 200 });
    await nextTurn();
    expect(await s.send(post(r.url))).toMatchObject({ kind: 'response', statusCode: 200 });
    expect(r.connections).toBe(1);
    await nextTurn();
    // Block the loop as a freeze would: no timer runs, so the heartbeat falls behind.
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      // busy wait
    }
    expect(await s.send(post(r.url))).toMatchObject({ kind: 'response', statusCode: 200 });
    expect(r.connections).toBe(2);
  });

  it('looks a name up once per connection, not once per request', async () => {
    const r = await receiver(ok());
    const { lookup, calls } = fakeLookup({ 'hooks.test': ['127.0.0.1'] });
    const s = sender({ lookup });
    for (let i = 0; i < 3; i++) {
      expect(await s.send(post(`http://hooks.test:${r.port}/`))).toMatchObject({
        kind: 'response',
        statusCode: 200,
      });
      await nextTurn();
    }
    expect(calls).toEqual(['hooks.test']);
    expect(r.connections).toBe(1);
  });
});

describe('egress guard on real sends', () => {
  it('refuses a loopback receiver when loopback is not allow-listed; the receiver sees nothing', async () => {
    const r = await receiver(ok());
    const s = sender({ policy: NO_EXCEPTIONS });
    const spellings = [
      r.url,
      `http://2130706433:${r.port}/`,
      `http://127.1:${r.port}/`,
      `http://0x7f.0.0.1:${r.port}/`,
      `http://[::ffff:127.0.0.1]:${r.port}/`,
      `http://localhost:${r.port}/`,
      `http://LOCALHOST.:${r.port}/`,
    ];
    for (const url of spellings) {
      const result = await s.send(post(url));
      expectError(result, 'BLOCKED_URL');
      expect(result.message).toMatch(/loopback/);
    }
    expect(r.requests).toHaveLength(0);
    expect(r.connections).toBe(0);
  });

  it('refuses a name that resolves to loopback, after exactly one lookup', async () => {
    const r = await receiver(ok());
    const { lookup, calls } = fakeLookup({ 'innocent.test': ['127.0.0.1'] });
    const result = await sender({ policy: NO_EXCEPTIONS, lookup }).send(
      post(`http://innocent.test:${r.port}/`),
    );
    expectError(result, 'BLOCKED_URL');
    expect(result.message).toMatch(/innocent\.test.*127\.0\.0\.1.*loopback/);
    expect(calls).toEqual(['innocent.test']);
    expect(r.connections).toBe(0);
  });

  it('refuses a name when any one of its addresses is refused', async () => {
    const allowed = await receiver(ok());
    const { lookup } = fakeLookup({ 'mixed.test': ['127.0.0.1', '127.0.0.9'] });
    const policy: EgressPolicy = { allowHttp: true, allowCidrs: ['127.0.0.1/32'] };
    const result = await sender({ policy, lookup }).send(
      post(`http://mixed.test:${allowed.port}/`),
    );
    expectError(result, 'BLOCKED_URL');
    expect(result.message).toMatch(/127\.0\.0\.9/);
    expect(allowed.connections).toBe(0);
  });

  it('refuses plain http when the policy is https-only, before connecting', async () => {
    const r = await receiver(ok());
    const result = await sender({ policy: { allowHttp: false, allowCidrs: ['127.0.0.0/8'] } }).send(
      post(r.url),
    );
    expectError(result, 'BLOCKED_URL');
    expect(result.message).toMatch(/plain http/);
    expect(r.connections).toBe(0);
  });

  it('refuses credentials in the URL', async () => {
    const r = await receiver(ok());
    const result = await sender().send(post(`http://user:secret@127.0.0.1:${r.port}/`));
    expectError(result, 'BLOCKED_URL');
    expect(result.message).not.toMatch(/secret/);
    expect(r.connections).toBe(0);
  });

  it('keeps a connection on the address its lookup checked, whatever DNS answers later', async () => {
    const decoy = await receiver(ok('decoy'), { host: '127.0.0.2' });
    const forbidden = await receiver(ok('forbidden'), { host: '127.0.0.1', port: decoy.port });
    let call = 0;
    const lookup = async () => {
      call += 1;
      return [{ address: call === 1 ? '127.0.0.2' : '127.0.0.1', family: 4 as const }];
    };
    const s = sender({ policy: { allowHttp: true, allowCidrs: ['127.0.0.2/32'] }, lookup });
    for (let i = 0; i < 3; i++) {
      expect(await s.send(post(`http://rebind.test:${decoy.port}/`))).toMatchObject({
        kind: 'response',
        body: 'decoy',
      });
      await nextTurn();
    }
    expect(call).toBe(1);
    expect(forbidden.connections).toBe(0);
  });

  it('refuses a rebinding answer on a new connection, so it never reaches loopback', async () => {
    // "Public" stands in as 127.0.0.2 (allow-listed); the forbidden target is 127.0.0.1 on the same port.
    const decoy = await receiver(ok('decoy'), { host: '127.0.0.2' });
    const forbidden = await receiver(ok('forbidden'), { host: '127.0.0.1', port: decoy.port });
    let call = 0;
    const lookup = async () => {
      call += 1;
      return [{ address: call === 1 ? '127.0.0.2' : '127.0.0.1', family: 4 as const }];
    };
    const s = sender({ policy: { allowHttp: true, allowCidrs: ['127.0.0.2/32'] }, lookup });
    const url = `http://rebind.test:${decoy.port}/`;
    // Two concurrent sends need two connections, hence two lookups.
    const results = await Promise.all([s.send(post(url)), s.send(post(url))]);
    const kinds = results
      .map((x) => (x.kind === 'response' ? `${x.statusCode} ${x.body}` : x.error))
      .sort();
    expect(kinds).toEqual(['200 decoy', 'BLOCKED_URL']);
    expect(call).toBe(2);
    expect(forbidden.connections).toBe(0);
    expect(forbidden.requests).toHaveLength(0);
    expect(decoy.requests).toHaveLength(1);
  });

  it('delivers to ::1 when allow-listed and refuses it otherwise', async () => {
    const r = await receiver(ok('v6'), { host: '::1' });
    expect(await sender().send(post(r.url))).toMatchObject({
      kind: 'response',
      statusCode: 200,
      body: 'v6',
    });
    const blocked = await sender({ policy: { allowHttp: true, allowCidrs: ['127.0.0.0/8'] } }).send(
      post(r.url),
    );
    expectError(blocked, 'BLOCKED_URL');
    expect(r.connections).toBe(1);
  });

  it('delivers to localhost in local mode without asking DNS', async () => {
    const r = await receiver(ok('local'));
    const { lookup, calls } = fakeLookup({});
    const result = await sender({ lookup }).send(post(`http://localhost:${r.port}/`));
    expect(result).toMatchObject({ kind: 'response', statusCode: 200, body: 'local' });
    expect(calls).toEqual([]);
  });

  it('rejects an invalid allow-list when the sender is created', () => {
    expect(() =>
      createHttpSender({ policy: { allowHttp: true, allowCidrs: ['127.0.0.0/8', 'not-a-cidr'] } }),
    ).toThrow(/not-a-cidr/);
  });

  it('rejects nonsensical timeouts and caps when the sender is created', () => {
    expect(() => createHttpSender({ policy: LOOPBACK, totalTimeoutMs: 0 })).toThrow(
      /totalTimeoutMs/,
    );
    expect(() => createHttpSender({ policy: LOOPBACK, connectTimeoutMs: Number.NaN })).toThrow(
      /connectTimeoutMs/,
    );
    expect(() => createHttpSender({ policy: LOOPBACK, maxResponseBytes: -1 })).toThrow(
      /maxResponseBytes/,
    );
  });
});

describe('close', () => {
  it('ends an in-flight exchange instead of waiting for its timeout', async () => {
    const r = await receiver(hang());
    const s = createHttpSender({ policy: LOOPBACK, totalTimeoutMs: 60_000 });
    const pending = s.send(post(r.url));
    while (r.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await s.close();
    expectError(await pending, 'CONNECTION_ERROR');
  });
});

describe('guard internals (no connection is made)', () => {
  it('the connector refuses a non-public IP literal before creating a socket', async () => {
    const connect = createGuardedConnector(NO_EXCEPTIONS, {
      connectTimeoutMs: 1000,
      lookup: fakeLookup({}).lookup,
    });
    const err = await new Promise<Error | null>((resolve) =>
      connect(
        { hostname: '127.0.0.1', host: '127.0.0.1:9', protocol: 'http:', port: '9' },
        (...args) => resolve(args[0]),
      ),
    );
    expect(err).toBeInstanceOf(EgressBlockedError);
    expect(classifyNetworkError(err).error).toBe('BLOCKED_URL');
  });

  it('the lookup hook refuses when any address is refused and otherwise hands over exactly the checked addresses', async () => {
    const { lookup } = fakeLookup({
      'two.test': ['127.0.0.1', '::1'],
      'bad.test': ['127.0.0.1', '10.0.0.1'],
    });
    const hook = guardedLookup(LOOPBACK, lookup);
    const call = (host: string, options: { all?: boolean; family?: number }) =>
      new Promise<unknown[]>((resolve) => hook(host, options, (...args) => resolve(args)));
    expect(await call('two.test', { all: true })).toEqual([
      null,
      [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ],
    ]);
    expect(await call('two.test', {})).toEqual([null, '127.0.0.1', 4]);
    expect(await call('two.test', { family: 6 })).toEqual([null, '::1', 6]);
    const [err] = await call('bad.test', { all: true });
    expect(err).toBeInstanceOf(EgressBlockedError);
    expect((err as Error).message).toMatch(/10\.0\.0\.1.*private/);
  });

  it('classifies network errors by code', () => {
    const e = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    expect(classifyNetworkError(e('UND_ERR_CONNECT_TIMEOUT')).error).toBe('TIMEOUT');
    expect(classifyNetworkError(e('UND_ERR_HEADERS_TIMEOUT')).error).toBe('TIMEOUT');
    expect(classifyNetworkError(e('ECONNREFUSED')).error).toBe('CONNECTION_ERROR');
    expect(classifyNetworkError(e('EPIPE')).error).toBe('CONNECTION_ERROR');
    expect(classifyNetworkError(e('UND_ERR_SOCKET', 'other side closed')).error).toBe(
      'CONNECTION_ERROR',
    );
    expect(classifyNetworkError(e('EAI_AGAIN')).error).toBe('CONNECTION_ERROR');
    expect(classifyNetworkError(e('CERT_HAS_EXPIRED')).error).toBe('TLS_ERROR');
    expect(classifyNetworkError(e('ERR_TLS_CERT_ALTNAME_INVALID')).error).toBe('TLS_ERROR');
    expect(classifyNetworkError(e('UNABLE_TO_VERIFY_LEAF_SIGNATURE')).error).toBe('TLS_ERROR');
    expect(classifyNetworkError(e('ERR_SSL_WRONG_VERSION_NUMBER')).error).toBe('TLS_ERROR');
    expect(classifyNetworkError(new EgressBlockedError('no')).error).toBe('BLOCKED_URL');
    expect(classifyNetworkError('weird').error).toBe('CONNECTION_ERROR');
  });
});
