/**
 * Request parsing shared by every route: body size limits (checked on the raw string before
 * JSON.parse), base64 bodies, Content-Type, safe JSON (depth, `__proto__`, lone surrogates)
 * and query strings.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import {
  type ErrorDetail,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../../core/errors';
import { InvalidJsonError } from './errors';

/** Nesting deeper than this is refused: later stages (templates, marshalling) recurse. */
export const MAX_JSON_DEPTH = 32;

export interface BodyOptions {
  /** Largest accepted body in bytes (after base64 decoding). */
  readonly maxBytes: number;
  /** When true an absent or empty body yields undefined instead of a 400. */
  readonly optional?: boolean;
}

/** Lower-cased header lookup (API Gateway v2 already lower-cases; local mode may not). */
export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const headers = event.headers ?? {};
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

function tooLarge(maxBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`Request body exceeds ${maxBytes} bytes.`);
}

/** Returns the body as text, refusing oversized or non-UTF-8 bodies before anything parses them. */
export function rawBodyText(event: APIGatewayProxyEventV2, maxBytes: number): string {
  const raw = event.body ?? '';
  if (event.isBase64Encoded) {
    // Every 4 base64 characters carry at most 3 bytes: a cheap bound before decoding.
    if (Math.floor(raw.length / 4) * 3 > maxBytes + 3) throw tooLarge(maxBytes);
    const bytes = Buffer.from(raw, 'base64');
    if (bytes.length > maxBytes) throw tooLarge(maxBytes);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new InvalidJsonError('Request body is not valid UTF-8.');
    }
  }
  // A UTF-16 length above the limit means at least as many UTF-8 bytes.
  if (raw.length > maxBytes || Buffer.byteLength(raw, 'utf8') > maxBytes) throw tooLarge(maxBytes);
  return raw;
}

/** Size in bytes of the request body as the client sent it (after base64 decoding). */
export function rawBodyBytes(event: APIGatewayProxyEventV2): number {
  const raw = event.body ?? '';
  return event.isBase64Encoded ? Buffer.from(raw, 'base64').length : Buffer.byteLength(raw, 'utf8');
}

function checkContentType(event: APIGatewayProxyEventV2): void {
  const value = header(event, 'content-type');
  const [mediaType = '', ...params] = (value ?? '').split(';').map((p) => p.trim().toLowerCase());
  const isJson =
    mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
  if (!isJson) {
    throw new UnsupportedMediaTypeError(
      value
        ? `Content-Type ${value} is not supported; send application/json.`
        : 'Content-Type is missing; send application/json.',
    );
  }
  for (const param of params) {
    const [name, v] = param.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    if (name === 'charset' && v !== 'utf-8' && v !== 'utf8') {
      throw new UnsupportedMediaTypeError(`Charset ${v} is not supported; send UTF-8.`);
    }
  }
}

/**
 * The JSON body of a request: 415 unless JSON, 413 above maxBytes, 400 INVALID_JSON when it
 * does not parse, 400 VALIDATION_ERROR for `__proto__` keys, lone surrogates or nesting
 * deeper than MAX_JSON_DEPTH.
 */
export function readJsonBody(event: APIGatewayProxyEventV2, opts: BodyOptions): unknown {
  const hasBody = event.body !== undefined && event.body !== null && event.body !== '';
  if (!hasBody) {
    if (opts.optional) return undefined;
    throw new ValidationError('A JSON request body is required.', [
      { path: '', message: 'missing body' },
    ]);
  }
  checkContentType(event);
  let text = rawBodyText(event, opts.maxBytes);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') {
    if (opts.optional) return undefined;
    throw new ValidationError('A JSON request body is required.', [
      { path: '', message: 'empty body' },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Only the position is echoed: newer engines quote the input in their message.
    const at = /position (\d+)/.exec(err instanceof Error ? err.message : '');
    throw new InvalidJsonError(
      `Request body is not valid JSON${at ? ` (error at position ${at[1]})` : ''}.`,
    );
  }
  checkJsonValue(value);
  return value;
}

/**
 * The body of a route that takes no input: absent, empty or `{}`. Anything else is a 400
 * VALIDATION_ERROR, as an unknown field is on every route that takes one.
 */
export function readEmptyBody(event: APIGatewayProxyEventV2, maxBytes: number): void {
  const value = readJsonBody(event, { maxBytes, optional: true });
  if (value === undefined) return;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return;
    throw new ValidationError(
      'This route takes no input: send no body or {}.',
      keys.map((key) => ({ path: key, message: 'unknown field; this route takes none' })),
    );
  }
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  throw new ValidationError('This route takes no input: send no body or {}.', [
    { path: '', message: `must be absent or an empty object, got ${got}` },
  ]);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Iterative walk (no recursion, so hostile nesting cannot overflow the stack). */
export function checkJsonValue(root: unknown): void {
  const stack: { value: unknown; path: string; depth: number }[] = [
    { value: root, path: '', depth: 0 },
  ];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value, path, depth } = next;
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value)) throw invalid(path, 'contains an unpaired UTF-16 surrogate');
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH)
      throw invalid(path, `nesting is deeper than ${MAX_JSON_DEPTH} levels`);
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1 });
      });
      continue;
    }
    for (const key of Object.keys(value)) {
      const childPath = path === '' ? key : `${path}.${key}`;
      if (key === '__proto__') throw invalid(childPath, 'the key __proto__ is not allowed');
      if (LONE_SURROGATE.test(key))
        throw invalid(path, 'a key contains an unpaired UTF-16 surrogate');
      stack.push({
        value: (value as Record<string, unknown>)[key],
        path: childPath,
        depth: depth + 1,
      });
    }
  }
}

function invalid(path: string, message: string): ValidationError {
  const detail: ErrorDetail = { path, message };
  return new ValidationError(`Invalid JSON body: ${path === '' ? 'body' : path} ${message}.`, [
    detail,
  ]);
}

/**
 * Query parameters, refusing names the route does not know and repeated names (a list
 * filter given twice is ambiguous).
 */
export function readQuery(
  event: APIGatewayProxyEventV2,
  allowed: readonly string[],
): Record<string, string> {
  const params = new URLSearchParams(event.rawQueryString ?? '');
  const out: Record<string, string> = Object.create(null);
  const details: ErrorDetail[] = [];
  for (const [name, value] of params) {
    if (!allowed.includes(name)) {
      details.push({
        path: name,
        message: `unknown query parameter; allowed: ${allowed.join(', ') || 'none'}`,
      });
    } else if (name in out) {
      details.push({ path: name, message: 'given more than once' });
    } else {
      out[name] = value;
    }
  }
  if (details.length > 0) throw new ValidationError('Invalid query string.', details);
  return out;
}
