/**
 * The HTTP front door of local mode, standing in for API Gateway (HTTP API): it turns each
 * request into a payload format 2.0 event for the real handlers (POST /events -> ingest,
 * everything else -> api) and their structured result back into a response.
 *
 * Where API Gateway uses IAM (SigV4), local mode uses one bearer token, required on every
 * route but /health. /health is answered here: it reports the local stand-ins, which only
 * local mode knows about.
 *
 * The port is bound before anything else starts (listenApi), so a taken port fails fast and
 * leaves nothing running; requests before attach() get 503.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import { DEFAULT_CONSOLE_DIR, serveConsole } from './console-files';
import { listen } from './listen';

export type HttpLambda = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyResultV2>;

export interface HealthReport {
  readonly ok: boolean;
  /** 'paused': stopped on purpose (LOCAL_PAUSE_DELIVERY), not a fault. */
  readonly components: Readonly<Record<string, 'up' | 'down' | 'paused'>>;
}

export interface ApiRoutes {
  readonly token: string;
  readonly ingest: HttpLambda;
  readonly api: HttpLambda;
  readonly health: () => Promise<HealthReport>;
  readonly region: string;
  readonly onError?: (message: string, err: unknown) => void;
}

export interface ApiServer {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Starts serving the routes (until then every request gets 503). */
  attach(routes: ApiRoutes): void;
  close(): Promise<void>;
}

/** The port was taken: names the port and the variable that changes it. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly host: string,
  ) {
    super(
      `Port ${port} on ${host} is already in use. Stop what is using it, or choose another port with the PORT variable (e.g. PORT=${port + 1} npm start).`,
    );
    this.name = 'PortInUseError';
  }
}

/** API Gateway HTTP APIs refuse payloads above 10 MB. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const ACCOUNT_ID = '000000000000';
const TEXT_TYPES =
  /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|application\/[a-z0-9.+-]+\+(json|xml))/i;

export interface ApiServerOptions {
  /** The operator console's built files, served at /console/. Default console/dist. */
  readonly consoleDir?: string;
}

export async function listenApi(
  port: number,
  host = '127.0.0.1',
  options: ApiServerOptions = {},
): Promise<ApiServer> {
  let routes: ApiRoutes | undefined;
  const consoleDir = options.consoleDir ?? DEFAULT_CONSOLE_DIR;
  const server = http.createServer((req, res) => {
    handle(req, res, routes, consoleDir).catch((err) => {
      routes?.onError?.('local API server failed a request', err);
      if (!res.headersSent) sendError(res, 500, 'INTERNAL_ERROR', 'Internal Server Error');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  const address = await listen(server, port, host).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'EADDRINUSE' ? new PortInUseError(port, host) : err;
  });
  let closing: Promise<void> | undefined;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    host: address.address,
    attach: (r) => {
      routes = r;
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests in flight get a moment to finish; then their sockets go too.
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      return closing;
    },
  };
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  routes: ApiRoutes | undefined,
  consoleDir: string,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = (req.method ?? 'GET').toUpperCase();
  // The console's files are public (like CloudFront's); the token is asked for in the page.
  if (await serveConsole(req, res, url.pathname, consoleDir)) return;
  if (!routes) {
    await drain(req);
    sendError(res, 503, 'STARTING', 'The platform is starting; try again in a moment.');
    return;
  }
  if (url.pathname === '/health' && (method === 'GET' || method === 'HEAD')) {
    await drain(req);
    const report = await routes.health().catch(() => ({ ok: false, components: {} }));
    sendJson(res, report.ok ? 200 : 503, {
      status: report.ok ? 'ok' : 'unavailable',
      components: report.components,
    });
    return;
  }
  const auth = checkToken(req.headers.authorization, routes.token);
  if (auth !== undefined) {
    await drain(req);
    sendError(res, 401, 'UNAUTHORIZED', auth, { 'www-authenticate': 'Bearer realm="webhooks"' });
    return;
  }
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body === 'too-large') {
    sendError(res, 413, 'PAYLOAD_TOO_LARGE', `Request body exceeds ${MAX_BODY_BYTES} bytes.`, {
      connection: 'close',
    });
    return;
  }
  const isEvents = url.pathname === '/events' && method === 'POST';
  const event = toHttpApiEvent(req, body, {
    routeKey: isEvents ? 'POST /events' : '$default',
    region: routes.region,
  });
  const result = await (isEvents ? routes.ingest : routes.api)(event);
  sendResult(res, result, event.requestContext.requestId);
}

/** undefined when the bearer token matches; otherwise why not. */
function checkToken(header: string | undefined, token: string): string | undefined {
  if (!header) return 'Missing bearer token: send Authorization: Bearer <API_TOKEN>.';
  const sentToken = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  if (sentToken === undefined)
    return 'Authorization must be a bearer token: Authorization: Bearer <API_TOKEN>.';
  // Hashing first gives equal lengths, so the comparison takes the same time whatever was sent.
  const sent = createHash('sha256').update(sentToken).digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(sent, expected) ? undefined : 'Invalid bearer token.';
}

function drain(req: http.IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded) return resolve();
    req.on('end', resolve);
    req.on('error', () => resolve());
    req.resume();
  });
}

function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** API Gateway's request time format: 28/Nov/2026:11:26:42 +0000. */
function requestTime(d: Date): string {
  const months = [
    'Jan',
    'Feb',
    'Mar',
    'Apr',
    'May',
    'Jun',
    'Jul',
    'Aug',
    'Sep',
    'Oct',
    'Nov',
    'Dec',
  ];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** A request as API Gateway (HTTP API, payload format 2.0) hands it to a Lambda. */
export function toHttpApiEvent(
  req: Pick<http.IncomingMessage, 'method' | 'url' | 'headers' | 'httpVersion'> & {
    socket?: { remoteAddress?: string };
  },
  body: Buffer,
  opts: { routeKey: string; region: string },
): APIGatewayProxyEventV2 {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  const rawQueryString = q >= 0 ? rawUrl.slice(q + 1) : '';

  // Header names lower-cased, repeated values joined by commas; cookies travel separately.
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const joined = Array.isArray(value) ? value.join(',') : value;
    if (name === 'cookie') {
      cookies = joined.split(/;\s*/).filter((c) => c.length > 0);
      continue;
    }
    headers[name.toLowerCase()] = joined;
  }

  let queryStringParameters: Record<string, string> | undefined;
  if (rawQueryString.length > 0) {
    queryStringParameters = {};
    for (const [key, value] of new URLSearchParams(rawQueryString)) {
      const previous = queryStringParameters[key];
      queryStringParameters[key] = previous === undefined ? value : `${previous},${value}`;
    }
  }

  const now = new Date();
  const method = (req.method ?? 'GET').toUpperCase();
  const host = headers.host ?? 'localhost';
  const textual =
    body.length === 0 || (TEXT_TYPES.test(headers['content-type'] ?? '') && isUtf8(body));
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey: opts.routeKey,
    rawPath,
    rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(queryStringParameters ? { queryStringParameters } : {}),
    requestContext: {
      accountId: ACCOUNT_ID,
      apiId: 'local',
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion ?? '1.1'}`,
        sourceIp: req.socket?.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: opts.routeKey,
      stage: '$default',
      time: requestTime(now),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: textual ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: !textual,
  };
}

function isUtf8(buf: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

/** The API's error shape (DESIGN.md): `{"error":{"code","message","details":[]}}`. */
function sendError(
  res: http.ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { code, message, details: [] } }, headers);
}

/** A handler result, as API Gateway turns it into a response (format 2.0 rules). */
function sendResult(
  res: http.ServerResponse,
  result: APIGatewayProxyResultV2,
  requestId: string,
): void {
  const structured =
    typeof result === 'object' && result !== null && 'statusCode' in result
      ? (result as APIGatewayProxyStructuredResultV2)
      : undefined;
  if (!structured) {
    // Without a statusCode, API Gateway answers 200 with the value as JSON.
    sendJson(res, 200, result, { 'apigw-requestid': requestId });
    return;
  }
  const body =
    structured.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(structured.body, structured.isBase64Encoded ? 'base64' : 'utf8');
  const headers: Record<string, string | string[]> = { 'apigw-requestid': requestId };
  for (const [name, value] of Object.entries(structured.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  if (structured.cookies && structured.cookies.length > 0)
    headers['set-cookie'] = structured.cookies;
  const status = structured.statusCode ?? 200;
  if (status !== 204 && status !== 304) headers['content-length'] = String(body.length);
  res.writeHead(status, headers);
  res.end(status === 204 || status === 304 ? undefined : body);
}
