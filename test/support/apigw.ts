/**
 * Builds real API Gateway HTTP API (payload format 2.0) events, as API Gateway hands them to
 * a Lambda behind an IAM-authorised route, and calls handlers with them.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export interface ApiRequest {
  readonly method: string;
  /** Path with an optional query string: '/notifications?limit=5'. */
  readonly path: string;
  /** An object or array is sent as JSON; a string is sent as is. */
  readonly body?: unknown;
  /** Default for bodies: application/json. `null` sends no Content-Type. */
  readonly contentType?: string | null;
  readonly headers?: Record<string, string>;
  /** Sends the body base64-encoded (as API Gateway does for binary media types). */
  readonly base64?: boolean;
  /** A named stage puts `/<stage>` in front of rawPath. Default `$default`. */
  readonly stage?: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Parsed JSON body (undefined when there is none). */
  // biome-ignore lint/suspicious/noExplicitAny: tests assert on JSON bodies field by field
  readonly body: any;
  readonly rawBody: string | undefined;
}

export function apiGatewayEvent(req: ApiRequest): APIGatewayProxyEventV2 {
  const [pathOnly = '/', query = ''] = req.path.split(/\?(.*)/s);
  const stage = req.stage ?? '$default';
  const rawPath = stage === '$default' ? pathOnly : `/${stage}${pathOnly}`;
  const method = req.method.toUpperCase();
  let body: string | undefined;
  if (req.body !== undefined)
    body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
  const headers: Record<string, string> = {
    accept: 'application/json',
    host: 'abc123.execute-api.eu-central-1.amazonaws.com',
    'user-agent': 'aws-sdk-js/3 test',
    'x-amz-date': '20261128T120000Z',
    'x-forwarded-for': '198.51.100.7',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
  };
  if (body !== undefined) {
    headers['content-length'] = String(Buffer.byteLength(body, 'utf8'));
    if (req.contentType !== null) headers['content-type'] = req.contentType ?? 'application/json';
  }
  for (const [name, value] of Object.entries(req.headers ?? {}))
    headers[name.toLowerCase()] = value;
  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(query)) {
    queryStringParameters[name] =
      name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
  }
  const now = Date.now();
  const event: APIGatewayProxyEventV2 & { requestContext: { authorizer: unknown } } = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: query,
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authorizer: {
        iam: {
          accessKey: 'AKIAEXAMPLE',
          accountId: '123456789012',
          callerId: 'AIDAEXAMPLE',
          cognitoIdentity: null,
          principalOrgId: null,
          userArn: 'arn:aws:iam::123456789012:user/operator',
          userId: 'AIDAEXAMPLE',
        },
      },
      domainName: 'abc123.execute-api.eu-central-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: {
        method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '198.51.100.7',
        userAgent: 'aws-sdk-js/3 test',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage,
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    isBase64Encoded: req.base64 === true,
  };
  if (Object.keys(queryStringParameters).length > 0)
    event.queryStringParameters = queryStringParameters;
  if (body !== undefined)
    event.body = req.base64 ? Buffer.from(body, 'utf8').toString('base64') : body;
  return event;
}

export type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export async function invoke(handler: Handler, req: ApiRequest): Promise<ApiResponse> {
  const result = await handler(apiGatewayEvent(req));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  const rawBody = result.body;
  let body: unknown;
  if (rawBody !== undefined && rawBody !== '') {
    body = headers['content-type']?.startsWith('application/json') ? JSON.parse(rawBody) : rawBody;
  }
  return { status: result.statusCode ?? 200, headers, body, rawBody };
}

/** A bound client: `const api = client(handler); await api.get('/webhooks')`. */
export function client(handler: Handler) {
  return {
    request: (req: ApiRequest) => invoke(handler, req),
    get: (path: string) => invoke(handler, { method: 'GET', path }),
    delete: (path: string) => invoke(handler, { method: 'DELETE', path }),
    post: (path: string, body?: unknown, extra: Partial<ApiRequest> = {}) =>
      invoke(handler, { method: 'POST', path, body, ...extra }),
    put: (path: string, body?: unknown, extra: Partial<ApiRequest> = {}) =>
      invoke(handler, { method: 'PUT', path, body, ...extra }),
  };
}
