/**
 * HttpSender on undici 7: one keep-alive pool per origin (undici Agent), the egress guard
 * inside the connector, bounded time and a capped response read.
 *
 * Why the guard sits in the connector: net.connect calls our `lookup` exactly once per new
 * connection and connects only to the addresses that lookup returned. Our lookup checks every
 * address before returning them, so the address connected is the address checked (a DNS
 * answer that changes between check and connect cannot redirect us). No lookup result is
 * cached here; keep-alive connections already avoid repeat lookups. IP-literal hosts skip
 * lookup in net, so the connector checks them itself (and send() checks them up front).
 */
import { promises as dns } from 'node:dns';
import { isIP, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import type { TLSSocket } from 'node:tls';
import type { Dispatcher } from 'undici';

// Only the Agent and its connector: the package root also loads fetch, WebSocket, caches and
// mocks, which would more than double the delivery bundle and its cold start.
import Agent = require('undici/lib/dispatcher/agent');
import buildConnector = require('undici/lib/core/connect');

import type { TlsKeyExchange } from '../config';
import {
  checkAddress,
  checkAll,
  checkUrl,
  type EgressPolicy,
  type Lookup,
  normalizeCidrs,
  type ResolvedAddress,
  staticAddresses,
} from '../core/egress';
import type { HttpResult, HttpSender, OutgoingRequest } from '../ports';
import {
  CLASSICAL_SHARE_GROUPS,
  choseClassicalGroup,
  KeyShareMemory,
  keySharePredictionSupported,
} from './tls-key-shares';
import { type CachedSession, postQuantumSecret, TlsSessions } from './tls-sessions';

export interface HttpSenderOptions {
  policy: EgressPolicy;
  /** TCP + TLS handshake budget (default 5000). */
  connectTimeoutMs?: number;
  /** Whole exchange, from send() to the last body byte (default 15000). */
  totalTimeoutMs?: number;
  /** Response body bytes kept (default 1024); reading stops beyond that. */
  maxResponseBytes?: number;
  /** Name resolution (default dns.promises.lookup with all: true). Every address is checked. */
  lookup?: (hostname: string) => Promise<{ address: string; family: 4 | 6 }[]>;
  /** Trusted CA certificates instead of the system store (tests only). */
  ca?: string | Buffer;
  /**
   * Key exchange offered in TLS (default `hybrid`: Node's own, post-quantum first, on new
   * sessions; see createGuardedConnector).
   */
  keyExchange?: TlsKeyExchange;
  /**
   * `hybrid` only: send a receiver that chose a classical group the X25519 key share alone from
   * then on (default true; tls-key-shares.ts). false: Node's full hello on every connection.
   */
  predictKeyShares?: boolean;
  /**
   * When the event loop has not run for this long (a Lambda freeze between invocations), idle
   * keep-alive sockets are presumed closed by their servers and the pools are replaced before
   * the next send (default 3000).
   */
  recycleAfterPauseMs?: number;
}

const CLOSE_GRACE_MS = 1000;

/**
 * The OpenSSL groups of the `classical` key exchange: X25519, then the NIST curves receivers
 * may require; also what `hybrid` offers when it resumes a post-quantum session. A new session
 * under `hybrid` sets none, leaving Node's default (X25519MLKEM768 first).
 */
export const CLASSICAL_KEY_EXCHANGE_GROUPS = 'X25519:P-256:P-384';

type HttpErrorKind = Extract<HttpResult, { kind: 'error' }>['error'];

/** The egress guard refused a connection (thrown inside the connector, mapped to BLOCKED_URL). */
export class EgressBlockedError extends Error {
  readonly code = 'ERR_EGRESS_BLOCKED';
  constructor(message: string) {
    super(message);
    this.name = 'EgressBlockedError';
  }
}

class TotalTimeoutError extends Error {
  readonly code = 'ERR_TOTAL_TIMEOUT';
}

class ResponseCappedError extends Error {
  readonly code = 'ERR_RESPONSE_CAPPED';
}

const defaultLookup: Lookup = async (hostname) => {
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

type NetLookupCallback = (
  err: Error | null,
  address?: string | { address: string; family: number }[],
  family?: number,
) => void;

/** net.connect's `lookup` hook: resolve once, check every address, hand over only those. */
export function guardedLookup(policy: EgressPolicy, resolve: Lookup) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number },
    callback: NetLookupCallback,
  ): void => {
    const fixed = staticAddresses(hostname);
    let pending: Promise<ResolvedAddress[]>;
    try {
      pending = fixed ? Promise.resolve([...fixed]) : resolve(hostname);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (addresses) => {
        const decision = checkAll(addresses, policy);
        if (!decision.ok) {
          callback(new EgressBlockedError(`host "${hostname}": ${decision.reason}`));
          return;
        }
        const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = wanted === 0 ? addresses : addresses.filter((a) => a.family === wanted);
        const first = usable[0];
        if (!first) {
          callback(
            Object.assign(new Error(`host "${hostname}" has no IPv${wanted} address`), {
              code: 'ENOTFOUND',
            }),
          );
        } else if (options.all) {
          callback(
            null,
            usable.map((a) => ({ address: a.address, family: a.family })),
          );
        } else {
          callback(null, first.address, first.family);
        }
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  };
}

/**
 * The undici connector with the egress guard: DNS names resolve through guardedLookup inside
 * net.connect; IP literals (which net never looks up) are checked before any socket exists.
 * TLS 1.2 minimum; SNI and certificate checks use the URL host, not the address.
 *
 * What the hello offers (`keyExchange`):
 *  - `hybrid` (default): Node's default groups, the hybrid post-quantum X25519MLKEM768 first, on
 *    every new session; a receiver that chose a classical group is sent the X25519 share only
 *    from then on (tls-key-shares.ts), unless `predictKeyShares` is false; a session made with
 *    the hybrid group is resumed offering the classical groups only, and a connection whose
 *    resumption the receiver refused is dropped before use and opened again with the hybrid
 *    hello (tls-sessions.ts);
 *  - `hybridEveryHandshake`: the same, but resumptions offer the hybrid group too;
 *  - `classical`: CLASSICAL_KEY_EXCHANGE_GROUPS on every hello.
 * Sessions are kept here (TlsSessions, one per receiver host and port), not in undici's cache,
 * so that every hello can offer the session whichever groups it lists.
 */
export function createGuardedConnector(
  policy: EgressPolicy,
  opts: {
    connectTimeoutMs: number;
    lookup: Lookup;
    ca?: string | Buffer;
    keyExchange?: TlsKeyExchange;
    predictKeyShares?: boolean;
  },
): buildConnector.connector {
  const common = {
    timeout: opts.connectTimeoutMs,
    minVersion: 'TLSv1.2',
    lookup: guardedLookup(policy, opts.lookup),
    ...(opts.ca === undefined ? {} : { ca: opts.ca }),
  };
  type Options = Parameters<buildConnector.connector>[0];
  type Callback = Parameters<buildConnector.connector>[1];
  const plain = buildConnector(common as buildConnector.BuildOptions);
  // One https connector per connection (a closure, cheap): its groups and the session it offers.
  const tlsConnector = (groups: string | undefined, session: Buffer | undefined) =>
    buildConnector({
      ...common,
      maxCachedSessions: 0,
      ...(groups === undefined ? {} : { ecdhCurve: groups }),
      ...(session === undefined ? {} : { session }),
    } as buildConnector.BuildOptions);
  const mode = opts.keyExchange ?? 'hybrid';
  const sessions = new TlsSessions();
  // Decided at the first https connection, not at init: the support probe makes the process's
  // first TLS context (4 ms of init here), which that connection needs anyway.
  let predicted: KeyShareMemory | null | undefined =
    mode === 'classical' || opts.predictKeyShares === false ? null : undefined;
  const keyShares = () => {
    if (predicted === undefined)
      predicted = keySharePredictionSupported() ? new KeyShareMemory() : null;
    return predicted;
  };

  /**
   * Keeps the sessions a connection handed to undici is issued. Node emits them after
   * `secureConnect` (a TLS 1.2 ticket that came with the handshake too), so none is missed.
   */
  const keepSessions = (socket: Socket, receiver: string, offered: CachedSession | undefined) => {
    socket.on('session', (session: Buffer) => {
      sessions.set(receiver, {
        session,
        postQuantum: postQuantumSecret(socket as TLSSocket, offered),
      });
    });
  };

  /** A handshake with the hello the key exchange and the receiver's key-share memory call for. */
  const handshake = (
    options: Options,
    receiver: string,
    offered: CachedSession | undefined,
    callback: Callback,
  ) => {
    const memory = mode === 'classical' ? null : keyShares();
    const classicalShare = memory?.predictsClassical(receiver) === true;
    const groups =
      mode === 'classical'
        ? CLASSICAL_KEY_EXCHANGE_GROUPS
        : classicalShare
          ? CLASSICAL_SHARE_GROUPS
          : undefined;
    tlsConnector(groups, offered?.session)(options, (err, socket) => {
      if (memory && socket)
        memory.learn(receiver, choseClassicalGroup((socket as TLSSocket).getEphemeralKeyInfo?.()));
      else if (memory && classicalShare) memory.forget(receiver);
      if (socket) {
        resetWhenAborted(socket);
        keepSessions(socket, receiver, offered);
      }
      callback(err, socket as never);
    });
  };

  /**
   * Resumes a post-quantum session offering the classical groups only. A receiver that refuses
   * the resumption makes a full handshake over those groups; that connection is dropped before
   * anything is sent on it, as is a handshake the receiver ends with a TLS alert (one that
   * accepts the hybrid group only), and the receiver gets the hybrid hello, now and on its later
   * connections. Any other failure (refused, reset, timed out) is the attempt's.
   */
  const resumeClassically = (
    options: Options,
    receiver: string,
    offered: CachedSession,
    callback: Callback,
  ) => {
    tlsConnector(CLASSICAL_KEY_EXCHANGE_GROUPS, offered.session)(options, (err, socket) => {
      if (socket && (socket as TLSSocket).isSessionReused?.() === true) {
        resetWhenAborted(socket);
        keepSessions(socket, receiver, offered);
        callback(null, socket as never);
        return;
      }
      if (!socket && !tlsAlert(err)) {
        callback(err, null);
        return;
      }
      socket?.destroy();
      sessions.refusedClassicalResumption(receiver);
      handshake(options, receiver, undefined, callback);
    });
  };

  return (options, callback) => {
    if (isIP(options.hostname) !== 0) {
      const decision = checkAddress(options.hostname, policy);
      if (!decision.ok) {
        callback(new EgressBlockedError(decision.reason), null);
        return;
      }
    }
    if (options.protocol !== 'https:') {
      plain(options, (err, socket) => {
        if (socket) resetWhenAborted(socket);
        callback(err, socket as never);
      });
      return;
    }
    const receiver = `${options.hostname}:${options.port || 443}`;
    const offered = sessions.get(receiver);
    if (mode === 'hybrid' && offered?.postQuantum && sessions.resumesClassically(receiver))
      resumeClassically(options, receiver, offered, callback);
    else handshake(options, receiver, offered, callback);
  };
}

/** A handshake the peer ended with a TLS alert (OpenSSL's error), not a network failure. */
function tlsAlert(err: unknown): boolean {
  const e = (err ?? {}) as { code?: unknown; library?: unknown };
  return (
    e.library === 'SSL routines' || (typeof e.code === 'string' && e.code.startsWith('ERR_SSL_'))
  );
}

/**
 * undici destroys a connection with an error when an exchange is aborted (timeout, response
 * cap). A plain destroy sends FIN behind any data still queued for the peer: if the peer never
 * reads, the kernel keeps that connection and its buffers for minutes. An aborted connection
 * is reset instead (RST), which drops the queued data at once.
 */
function resetWhenAborted(socket: Socket): void {
  const destroy = socket.destroy;
  socket.destroy = function destroyWithReset(this: Socket, error?: Error) {
    if (error && !this.destroyed && this.readyState === 'open') {
      try {
        this.resetAndDestroy();
        return this;
      } catch {
        // Not resettable (e.g. its handle is gone): an ordinary destroy below.
      }
    }
    return destroy.call(this, error);
  };
}

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME_MISMATCH|ERR_OSSL/;
const TIMEOUT_CODES = new Set([
  'ERR_TOTAL_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

/** Maps a network failure to the delivery failure reason. Unknown failures count as connection errors. */
export function classifyNetworkError(err: unknown): { error: HttpErrorKind; message: string } {
  const e = (err ?? {}) as {
    code?: unknown;
    message?: unknown;
    library?: unknown;
    cause?: unknown;
  };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const text = (code ? `${code}: ${message}` : message).slice(0, 500);
  if (code === 'ERR_EGRESS_BLOCKED') return { error: 'BLOCKED_URL', message };
  if (TIMEOUT_CODES.has(code)) return { error: 'TIMEOUT', message: text };
  if (
    TLS_CODE.test(code) ||
    e.library === 'SSL routines' ||
    (code === 'EPROTO' && /ssl|tls/i.test(message)) ||
    // The peer hung up mid-handshake (e.g. https to a plain-http port): the handshake failed.
    /before secure TLS connection was established/.test(message)
  ) {
    return { error: 'TLS_ERROR', message: text };
  }
  if (e.cause && e.cause !== err && typeof e.cause === 'object') {
    const inner = classifyNetworkError(e.cause);
    if (inner.error !== 'CONNECTION_ERROR') return inner;
  }
  return { error: 'CONNECTION_ERROR', message: text };
}

function flattenHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** One exchange. Settles exactly once: response, network error, or the overall timer. */
class SendHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private settled = false;
  private statusCode = 0;
  private headers: Record<string, string> = {};
  private chunks: Buffer[] = [];
  private kept = 0;
  timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settle: (result: HttpResult) => void,
    private readonly started: number,
    private readonly maxBytes: number,
    private readonly totalTimeoutMs: number,
  ) {}

  onTimeout = (): void => {
    if (this.settled) return;
    this.fail('TIMEOUT', `no complete response within ${this.totalTimeoutMs} ms`);
    // Before the request reached a socket there is no controller yet; onRequestStart aborts then.
    this.controller?.abort(new TotalTimeoutError('total timeout'));
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(new TotalTimeoutError('total timeout'));
  }

  onResponseStart(
    _c: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return; // 1xx informational: the real response follows
    this.statusCode = statusCode;
    this.headers = flattenHeaders(headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    const room = this.maxBytes - this.kept;
    if (chunk.length <= room) {
      this.chunks.push(chunk);
      this.kept += chunk.length;
      return;
    }
    if (room > 0) this.chunks.push(chunk.subarray(0, room));
    this.kept = this.maxBytes;
    // Cap reached: answer with what we have and drop the connection instead of reading on.
    this.respond(true);
    controller.abort(new ResponseCappedError('response body capped'));
  }

  onResponseEnd(): void {
    if (!this.settled) this.respond(false);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.settled) return;
    const { error, message } = classifyNetworkError(err);
    this.fail(error, message);
  }

  fail(error: HttpErrorKind, message: string): void {
    this.finish({
      kind: 'error',
      error,
      message,
      durationMs: Math.round(performance.now() - this.started),
    });
  }

  private respond(truncated: boolean): void {
    const buf =
      this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.kept);
    // A cut-off multi-byte character at the cap is dropped rather than turned into U+FFFD.
    const body = truncated ? new StringDecoder('utf8').write(buf) : buf.toString('utf8');
    this.finish({
      kind: 'response',
      statusCode: this.statusCode,
      headers: this.headers,
      body: withinUtf8Bytes(body, this.maxBytes),
      durationMs: Math.round(performance.now() - this.started),
    });
  }

  private finish(result: HttpResult): void {
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.chunks = [];
    this.settle(result);
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be a positive number of milliseconds, got ${value}`);
  return value;
}

/**
 * `text` cut to at most `maxBytes` of UTF-8 at a character boundary. Bytes that are not UTF-8
 * (a binary or compressed body) decode to U+FFFD, three bytes each: the excerpt kept stays
 * within the cap however the receiver's bytes decode.
 */
export function withinUtf8Bytes(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  return new StringDecoder('utf8').write(Buffer.from(text, 'utf8').subarray(0, maxBytes));
}

export function createHttpSender(opts: HttpSenderOptions): HttpSender & { close(): Promise<void> } {
  // Validate the allow-list once (a typo must fail the cold start, not open or close silently).
  const policy: EgressPolicy = {
    allowHttp: opts.policy.allowHttp,
    allowCidrs: normalizeCidrs(opts.policy.allowCidrs),
  };
  const connectTimeoutMs = positive('connectTimeoutMs', opts.connectTimeoutMs ?? 5000);
  const totalTimeoutMs = positive('totalTimeoutMs', opts.totalTimeoutMs ?? 15000);
  const maxBytes = opts.maxResponseBytes ?? 1024;
  if (!Number.isInteger(maxBytes) || maxBytes < 0)
    throw new RangeError(`maxResponseBytes must be an integer >= 0, got ${maxBytes}`);

  const connect = createGuardedConnector(policy, {
    connectTimeoutMs,
    lookup: opts.lookup ?? defaultLookup,
    ...(opts.ca === undefined ? {} : { ca: opts.ca }),
    ...(opts.keyExchange === undefined ? {} : { keyExchange: opts.keyExchange }),
    ...(opts.predictKeyShares === undefined ? {} : { predictKeyShares: opts.predictKeyShares }),
  });

  // Exchanges not yet settled, so close() can let them finish briefly before cutting them.
  const inflight = new Set<Promise<HttpResult>>();

  const newAgent = (): Agent =>
    new Agent({
      connect,
      // Backstops for undici's own socket bookkeeping; the overall timer decides the result.
      headersTimeout: totalTimeoutMs,
      bodyTimeout: totalTimeoutMs,
    });
  let agent = newAgent();
  const retired: Agent[] = [];

  // A frozen Lambda keeps its idle sockets while servers time them out; the first POST on such
  // a socket fails without the receiver having seen it. A heartbeat that stopped beating shows
  // the freeze (timers do not run while frozen); the next send then starts on fresh pools.
  // Only the idle sockets go: close() lets exchanges still in flight finish.
  const pauseMs = positive('recycleAfterPauseMs', opts.recycleAfterPauseMs ?? 3000);
  let lastBeat = performance.now();
  const heartbeat = setInterval(
    () => {
      lastBeat = performance.now();
    },
    Math.max(1, Math.floor(pauseMs / 3)),
  );
  heartbeat.unref();
  const recycleIfPaused = (now: number): void => {
    if (now - lastBeat <= pauseMs) return;
    lastBeat = now;
    const old = agent;
    agent = newAgent();
    retired.push(old);
    const forget = (): void => {
      const i = retired.indexOf(old);
      if (i >= 0) retired.splice(i, 1);
    };
    old.close().then(forget, forget);
  };

  return {
    send(request: OutgoingRequest): Promise<HttpResult> {
      const started = performance.now();
      recycleIfPaused(started);
      const checked = checkUrl(request.url, policy);
      if (!checked.ok) {
        return Promise.resolve({
          kind: 'error',
          error: 'BLOCKED_URL',
          message: checked.reason,
          durationMs: 0,
        });
      }
      const url = checked.url;
      const exchange = new Promise<HttpResult>((resolve) => {
        const handler = new SendHandler(resolve, started, maxBytes, totalTimeoutMs);
        handler.timer = setTimeout(handler.onTimeout, totalTimeoutMs);
        try {
          agent.dispatch(
            {
              origin: url.origin,
              path: url.pathname + url.search,
              method: request.method,
              headers: request.headers,
              body: request.body,
            },
            handler,
          );
        } catch (err) {
          const { error, message } = classifyNetworkError(err);
          handler.fail(error, message);
        }
      });
      inflight.add(exchange);
      void exchange.finally(() => inflight.delete(exchange));
      return exchange;
    },

    async close(): Promise<void> {
      // Exchanges in flight get a moment to finish; whatever is left is cut (and settles as
      // CONNECTION_ERROR). Idle keep-alive sockets close either way.
      if (inflight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(inflight),
          new Promise<void>((r) => {
            timer = setTimeout(r, CLOSE_GRACE_MS);
          }),
        ]);
        clearTimeout(timer);
      }
      clearInterval(heartbeat);
      await Promise.all([agent, ...retired].map((a) => a.destroy().catch(() => undefined)));
    },
  };
}
