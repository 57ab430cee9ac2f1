/**
 * Loopback HTTP(S) receivers for tests: real servers on 127.0.0.1 (or ::1) with scripted
 * behaviour (ok, fail N times, hang, slow body, reset, redirect, 429, 410, huge body, ...).
 * Every request is recorded. close() ends every socket, including hanging ones.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** UTF-8 body; '' when the receiver was told not to read bodies. */
  body: string;
  /** Date.now() when the request (and its body, if read) had arrived. */
  at: number;
  /** TLS only: the SNI name the client sent (undefined when none). */
  servername?: string;
  /** TLS only: the negotiated protocol, e.g. 'TLSv1.3'. */
  tlsProtocol?: string;
  /** TLS only: whether the connection resumed a session the receiver issued. */
  tlsResumed?: boolean;
}

export type ReceiverReply =
  | { status: number; headers?: Record<string, string>; body?: string }
  /** Never answers; the socket stays open until the client gives up or close() runs. */
  | { kind: 'hang' }
  /** Destroys the connection with a TCP RST, no response. */
  | { kind: 'reset' }
  /** Sends headers at once, then `chunk` every `intervalMs`, `chunks` times (default: forever). */
  | { kind: 'slowBody'; status?: number; intervalMs: number; chunk?: string; chunks?: number }
  /** Streams `bytes` bytes lazily (written only as the client drains them); see Receiver.streamed. */
  | { kind: 'huge'; bytes: number; status?: number };

export type Behaviour = (req: ReceivedRequest, n: number) => ReceiverReply | Promise<ReceiverReply>;

export interface StreamRecord {
  /** Bytes accepted by the socket so far (the client cannot have read more than this). */
  bytesWritten: number;
  /** true when every requested byte was written. */
  completed: boolean;
  /** Resolves when the stream stopped: completed, or the connection closed. */
  ended: Promise<void>;
}

export interface Receiver {
  url: string;
  port: number;
  host: string;
  requests: ReceivedRequest[];
  /** TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests). */
  connections: number;
  /** One record per 'huge' reply. */
  streamed: StreamRecord[];
  /** PEM of the self-signed certificate (TLS receivers only); pass it as `ca` to trust it. */
  ca?: string;
  setBehaviour(behaviour: Behaviour): void;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** Serve HTTPS with a self-signed certificate generated at test time (openssl CLI). */
  tls?: boolean;
  /** TLS only: highest protocol the server speaks (e.g. 'TLSv1.1' to test that clients refuse it). */
  tlsMaxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** TLS only: the key exchange groups the server accepts (OpenSSL list; default Node's own). */
  tlsGroups?: string;
  /** '127.0.0.1' (default) or '::1' or another 127.x.y.z address. */
  host?: string;
  /** Port to bind (default 0: any free port). */
  port?: number;
  /** false: never read request bodies (the request is recorded with body ''). Default true. */
  readBody?: boolean;
}

// ---- behaviour helpers -----------------------------------------------------------------

export const ok =
  (body = 'ok', headers: Record<string, string> = {}): Behaviour =>
  () => ({ status: 200, headers, body });

export const always =
  (status: number, body = ''): Behaviour =>
  () => ({ status, body });

/** Fails the first n requests with `status`, then answers 200. */
export const failTimes =
  (n: number, status = 500): Behaviour =>
  (_req, i) =>
    i <= n ? { status, body: `failure ${i}` } : { status: 200, body: 'ok' };

export const redirectTo =
  (location: string, status = 302): Behaviour =>
  () => ({ status, headers: { location }, body: '' });

export const retryAfter =
  (seconds: number | string, status = 429): Behaviour =>
  () => ({ status, headers: { 'retry-after': String(seconds) }, body: 'slow down' });

export const gone = (): Behaviour => () => ({ status: 410, body: 'gone' });
export const hang = (): Behaviour => () => ({ kind: 'hang' });

/**
 * A behaviour that holds every request until `release()`, then answers 200 'ok'; `arrived`
 * resolves when the first request is in (so a test acts while it is in flight).
 */
export function heldReplies(): { behaviour: Behaviour; arrived: Promise<void>; release(): void } {
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let arrive!: () => void;
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const behaviour: Behaviour = async () => {
    arrive();
    await held;
    return { status: 200, body: 'ok' };
  };
  return { behaviour, arrived, release };
}
export const reset = (): Behaviour => () => ({ kind: 'reset' });
export const slowBody =
  (intervalMs: number, chunk = 'x', chunks?: number): Behaviour =>
  () => ({ kind: 'slowBody', intervalMs, chunk, ...(chunks === undefined ? {} : { chunks }) });
export const huge =
  (bytes = 100 * 1024 * 1024): Behaviour =>
  () => ({ kind: 'huge', bytes });

// ---- self-signed certificate -----------------------------------------------------------

export interface SelfSigned {
  key: string;
  cert: string;
}

let cachedCert: SelfSigned | undefined;

/** Names the certificate is valid for (tests resolve these to loopback with an injected lookup). */
export const CERT_HOSTNAMES = ['localhost', 'receiver.test', '*.receiver.test'];

/** A self-signed certificate for localhost / receiver.test / 127.0.0.1 / ::1, made once per process. */
export function selfSignedCertificate(): SelfSigned {
  if (cachedCert) return cachedCert;
  const dir = mkdtempSync(join(tmpdir(), 'receiver-cert-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    const san = [...CERT_HOSTNAMES.map((h) => `DNS:${h}`), 'IP:127.0.0.1', 'IP:::1'].join(',');
    runOpenssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      '/CN=receiver.test',
      '-addext',
      `subjectAltName=${san}`,
    ]);
    cachedCert = { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8') };
    return cachedCert;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runOpenssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: 'pipe' });
  } catch (err) {
    const detail = (err as { stderr?: Buffer }).stderr?.toString().trim() || String(err);
    throw new Error(
      `TLS receivers need the openssl CLI to make a self-signed certificate: ${detail}`,
    );
  }
}

// ---- server ------------------------------------------------------------------------------

const HUGE_CHUNK = Buffer.alloc(64 * 1024, 0x61);

export async function startReceiver(
  behaviour: Behaviour,
  options: ReceiverOptions = {},
): Promise<Receiver> {
  const host = options.host ?? '127.0.0.1';
  const readBody = options.readBody ?? true;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let current = behaviour;
  let count = 0;
  let closed = false;

  const cert = options.tls ? selfSignedCertificate() : undefined;

  const receiver: Receiver = {
    url: '',
    port: 0,
    host,
    requests: [],
    connections: 0,
    streamed: [],
    ...(cert ? { ca: cert.cert } : {}),
    setBehaviour(b) {
      // A new behaviour counts its requests from 1 again (failTimes(n) means the next n).
      current = b;
      count = 0;
    },
    close: async () => {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await done;
    },
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void handle(req, res).catch((err: unknown) => {
      // A behaviour that throws is a test bug: answer 599 so it shows, never crash the runner.
      if (!res.headersSent) res.writeHead(599).end(String(err));
      else res.destroy();
    });
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    let body = '';
    if (readBody) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      body = Buffer.concat(chunks).toString('utf8');
    } else {
      req.pause();
    }
    const tlsSocket = req.socket as TLSSocket;
    const servername = tlsSocket.servername;
    const tlsProtocol = cert ? tlsSocket.getProtocol() : null;
    const record: ReceivedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: { ...req.headers },
      body,
      at: Date.now(),
      ...(typeof servername === 'string' ? { servername } : {}),
      ...(typeof tlsProtocol === 'string' ? { tlsProtocol } : {}),
      ...(cert ? { tlsResumed: tlsSocket.isSessionReused() } : {}),
    };
    receiver.requests.push(record);
    count += 1;
    const reply = await current(record, count);
    if (closed) return;

    if (!('kind' in reply)) {
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? '');
      return;
    }
    switch (reply.kind) {
      case 'hang':
        return;
      case 'reset':
        req.socket.resetAndDestroy();
        return;
      case 'slowBody': {
        res.writeHead(reply.status ?? 200, { 'content-type': 'text/plain' });
        res.flushHeaders();
        let sent = 0;
        const tick = (): void => {
          if (closed || res.destroyed) return;
          res.write(reply.chunk ?? 'x');
          sent += 1;
          if (reply.chunks !== undefined && sent >= reply.chunks) {
            res.end();
            return;
          }
          const t = setTimeout(() => {
            timers.delete(t);
            tick();
          }, reply.intervalMs);
          timers.add(t);
        };
        const t = setTimeout(() => {
          timers.delete(t);
          tick();
        }, reply.intervalMs);
        timers.add(t);
        return;
      }
      case 'huge': {
        const rec: StreamRecord = { bytesWritten: 0, completed: false, ended: Promise.resolve() };
        receiver.streamed.push(rec);
        rec.ended = streamHuge(res, reply.bytes, reply.status ?? 200, rec, () => closed);
        return;
      }
    }
  };

  const server: http.Server = cert
    ? https.createServer(
        {
          key: cert.key,
          cert: cert.cert,
          ...(options.tlsGroups === undefined ? {} : { ecdhCurve: options.tlsGroups }),
          ...(options.tlsMaxVersion === undefined
            ? {}
            : // Protocols below TLS 1.2 need OpenSSL's lowest security level to be offered at all.
              {
                maxVersion: options.tlsMaxVersion,
                minVersion: 'TLSv1',
                ciphers: 'DEFAULT@SECLEVEL=0',
              }),
        },
        onRequest,
      )
    : http.createServer(onRequest);
  // Hanging and slow tests rely on the client's timeouts, not the server's.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: Socket) => {
    receiver.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // Tests provoke client-side aborts; the resulting socket errors are expected.
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  receiver.port = port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  receiver.url = `${cert ? 'https' : 'http'}://${hostPart}:${port}`;
  return receiver;
}

/** Writes only as fast as the client reads (waits for 'drain'), so the count shows what the client pulled. */
function streamHuge(
  res: http.ServerResponse,
  bytes: number,
  status: number,
  rec: StreamRecord,
  isClosed: () => boolean,
): Promise<void> {
  return new Promise<void>((resolve) => {
    res.writeHead(status, {
      'content-type': 'application/octet-stream',
      'content-length': String(bytes),
    });
    res.on('close', () => resolve());
    const pump = (): void => {
      while (rec.bytesWritten < bytes) {
        if (isClosed() || res.destroyed) {
          resolve();
          return;
        }
        const n = Math.min(HUGE_CHUNK.length, bytes - rec.bytesWritten);
        rec.bytesWritten += n;
        if (!res.write(n === HUGE_CHUNK.length ? HUGE_CHUNK : HUGE_CHUNK.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      rec.completed = true;
      res.end(() => resolve());
    };
    pump();
  });
}
