/**
 * A small router over API Gateway HTTP API (payload format 2.0) events. Routes are matched
 * on the raw path, so it works behind a `$default` route, per-route integrations and local
 * mode alike. A literal segment beats a `{param}` (so `/notifications/resend` is not read as
 * a notification id); a known path with another method is 405.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { NotFoundError } from '../../core/errors';
import { errorResponse, MethodNotAllowedError } from './errors';

/** The `{name}` parameters of a route pattern, as a type: `'/a/{id}/b/{x}'` -> `'id' | 'x'`. */
export type PathParamNames<P extends string> = P extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PathParamNames<Rest>
  : never;

export interface RouteRequest<P extends string = string> {
  readonly event: APIGatewayProxyEventV2;
  readonly method: string;
  readonly path: string;
  /** Every parameter of the pattern is present (a route matches only when all are). */
  readonly params: Readonly<Record<PathParamNames<P>, string>>;
}

export interface RouteResponse {
  readonly status: number;
  /** Serialised as JSON; omitted for 204. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export type RouteHandler<P extends string = string> = (
  req: RouteRequest<P>,
) => Promise<RouteResponse>;

interface Route {
  readonly method: string;
  readonly segments: readonly string[];
  readonly pattern: string;
  readonly handler: RouteHandler;
  readonly maxParamLength: number;
}

export interface RouteOptions {
  /**
   * The route checks its parameters' length itself (a 400 naming the limit, as for a value it
   * does not address by id). By default a longer parameter matches no route: a 404.
   */
  readonly checksParamLength?: boolean;
}

/** Longest id the API accepts in a path; anything longer cannot exist (and DynamoDB keys are bounded). */
export const MAX_PATH_PARAM_LENGTH = 256;

export class Router {
  private readonly routes: Route[] = [];

  add<P extends string>(
    method: string,
    pattern: P,
    handler: RouteHandler<P>,
    options: RouteOptions = {},
  ): this {
    this.routes.push({
      method: method.toUpperCase(),
      segments: splitPath(pattern),
      pattern,
      // matchSegments fills in every parameter of the pattern before the handler runs.
      handler: handler as RouteHandler,
      maxParamLength: options.checksParamLength ? Number.POSITIVE_INFINITY : MAX_PATH_PARAM_LENGTH,
    });
    return this;
  }

  /** The registered routes (method and pattern), e.g. to compare with the OpenAPI description. */
  get routeList(): { method: string; pattern: string }[] {
    return this.routes.map((r) => ({ method: r.method, pattern: r.pattern }));
  }

  /** The route for a request, or NotFoundError / MethodNotAllowedError. */
  resolve(method: string, path: string): { route: Route; params: Record<string, string> } {
    const segments = splitPath(path);
    const matches: { route: Route; params: Record<string, string> }[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments, route.maxParamLength);
      if (params) matches.push({ route, params });
    }
    const forMethod = matches.filter((m) => m.route.method === method.toUpperCase());
    if (forMethod.length === 0) {
      if (matches.length > 0) {
        const allow = [...new Set(matches.map((m) => m.route.method))].sort();
        throw new MethodNotAllowedError(
          `${method} is not allowed on ${path}; allowed: ${allow.join(', ')}.`,
          allow,
        );
      }
      throw new NotFoundError(`No route for ${method} ${path}.`);
    }
    const [best] = forMethod.sort((a, b) => specificity(b.route) - specificity(a.route));
    if (best === undefined) throw new NotFoundError(`No route for ${method} ${path}.`);
    return best;
  }
}

function splitPath(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed.split('/').slice(1);
}

function matchSegments(
  pattern: readonly string[],
  actual: readonly string[],
  maxParamLength: number,
): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, p] of pattern.entries()) {
    const a = actual[i] ?? '';
    if (p.startsWith('{') && p.endsWith('}')) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(a);
      } catch {
        return undefined;
      }
      if (decoded === '' || decoded.length > maxParamLength) return undefined;
      params[p.slice(1, -1)] = decoded;
    } else if (p !== a) {
      return undefined;
    }
  }
  return params;
}

/** Literal segments earlier in the path weigh more: /a/literal beats /a/{param}. */
function specificity(route: Route): number {
  return route.segments.reduce((score, s, i) => score + (s.startsWith('{') ? 0 : 2 ** (16 - i)), 0);
}

/** The request path without a named stage prefix (a `$default` stage has none). */
export function requestPath(event: APIGatewayProxyEventV2): string {
  const raw = event.rawPath || event.requestContext?.http?.path || '/';
  const stage = event.requestContext?.stage;
  if (stage && stage !== '$default' && (raw === `/${stage}` || raw.startsWith(`/${stage}/`))) {
    return raw.slice(stage.length + 1) || '/';
  }
  return raw;
}

export interface HttpHandlerOptions {
  readonly logger: Pick<Logger, 'error' | 'info'>;
}

export type HttpHandler = (
  event: APIGatewayProxyEventV2,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * Wraps a router into a Lambda handler: resolves the route, runs it, maps errors. Logs one
 * line per request (method, path, status, duration); never a body, since webhook bodies
 * carry secrets.
 */
export function createHttpHandler(router: Router, opts: HttpHandlerOptions): HttpHandler {
  return async (event) => {
    const started = Date.now();
    const method = (event.requestContext?.http?.method ?? 'GET').toUpperCase();
    const path = requestPath(event);
    let response: RouteResponse;
    let route: string | undefined;
    try {
      const resolved = router.resolve(method, path);
      route = resolved.route.pattern;
      response = await resolved.route.handler({ event, method, path, params: resolved.params });
    } catch (err) {
      response = errorResponse(err, opts.logger);
    }
    opts.logger.info('request', {
      method,
      route: route ?? path,
      status: response.status,
      durationMs: Date.now() - started,
      requestId: event.requestContext?.requestId,
    });
    return toResult(response);
  };
}

function toResult(response: RouteResponse): APIGatewayProxyStructuredResultV2 {
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...response.headers };
  if (response.status === 204 || response.body === undefined) {
    return { statusCode: response.status, headers };
  }
  return {
    statusCode: response.status,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(response.body),
  };
}
