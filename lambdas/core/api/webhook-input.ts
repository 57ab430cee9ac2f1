/**
 * Parsing of a webhook definition body (create and replace): unknown fields refused, every
 * problem reported with its path, defaults filled in. Templates are checked afterwards by the
 * Renderer.
 */
import { parseConditions } from '../conditions';
import { InvalidConditionsError } from '../errors';
import { MAX_EVENT_TYPE_LENGTH } from '../events';
import {
  CONTENT_TYPES,
  type ContentType,
  HTTP_METHODS,
  type HttpMethod,
  MAX_CONCURRENCY,
  type WebhookDefinition,
} from '../model';
import { isHeaderName, isReservedHeader } from '../request-rules';
import { required } from '../required';
import { isValidSigningSecret } from '../signing';
import { subscriptionProblem } from '../subscriptions';
import {
  has,
  Issues,
  isObject,
  type Json,
  joinPath,
  readBoolean,
  readEnum,
  readInteger,
  readObject,
  readString,
} from './validation';
import { checkOneSigningMethod, readSigning, type SigningInput } from './webhook-signing';
import { GENERATE_SIGNING_SECRET, MASKED_PASSWORD, MASKED_SIGNING_SECRET } from './webhook-view';

export const DEFAULT_METHOD: HttpMethod = 'POST';
export const DEFAULT_CONTENT_TYPE: ContentType = 'application/json';
/** Body used when a JSON webhook gives none: the event as Standard-Webhooks-style envelope. */
export const DEFAULT_JSON_BODY =
  '{"id": {{ event.id | json }}, "type": {{ event.type | json }}, "occurredAt": {{ event.occurredAt | json }}, "data": {{ data | json }}}';

export const LIMITS = {
  name: 255,
  events: 100,
  eventType: MAX_EVENT_TYPE_LENGTH,
  url: 4096,
  headers: 50,
  headerName: 256,
  headerValue: 8192,
  body: 128 * 1024,
  username: 255,
  password: 1024,
} as const;

/** C0 controls, DEL and C1 controls (what POST /events refuses in event types). */
export function hasControlChars(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

const WRITABLE_FIELDS = [
  'name',
  'events',
  'enabled',
  'method',
  'url',
  'contentType',
  'headers',
  'body',
  'strict',
  'rateLimitPerSecond',
  'auth',
  'signingSecret',
  'signing',
  'maxConcurrency',
  'conditions',
] as const;
const READ_ONLY_FIELDS = [
  'id',
  'version',
  'createdAt',
  'updatedAt',
  'publicKey',
  'signingGraceUntil',
] as const;

export type AuthInput = {
  readonly type: 'basic';
  readonly username: string;
  readonly password: string | undefined;
};

/** Validated request body; `undefined` secret fields mean "not given". */
export interface WebhookInput {
  readonly fields: Omit<
    WebhookDefinition,
    | 'id'
    | 'version'
    | 'createdAt'
    | 'updatedAt'
    | 'auth'
    | 'signingSecret'
    | 'signingKey'
    | 'retiredSigningKeys'
  >;
  readonly auth: AuthInput | null | undefined;
  readonly signingSecret: string | null | undefined;
  /** `{"scheme":"ed25519"}`, null to remove, undefined when not given. */
  readonly signing: SigningInput | null | undefined;
  readonly id: string | undefined;
  readonly version: number | undefined;
}

/** Validates a create (POST) or replace (PUT) body in full, reporting every problem. */
export function parseWebhookInput(body: unknown, mode: 'create' | 'replace'): WebhookInput {
  const issues = new Issues();
  const allowed: readonly string[] = [...WRITABLE_FIELDS, ...READ_ONLY_FIELDS];
  const obj = readObject(body, '', allowed, issues);
  if (mode === 'create') {
    for (const key of READ_ONLY_FIELDS) {
      if (has(obj, key)) issues.add(key, 'is read-only: set by the server');
    }
  }

  const name = has(obj, 'name')
    ? readString(obj.name, 'name', { trim: true, min: 1, max: LIMITS.name }, issues)
    : missing(issues, 'name', 'is required');
  const events = readEvents(obj, issues);
  const enabled = has(obj, 'enabled') ? readBoolean(obj.enabled, 'enabled', issues) : true;
  const method = has(obj, 'method')
    ? readEnum(obj.method, 'method', HTTP_METHODS, issues)
    : DEFAULT_METHOD;
  const contentType = has(obj, 'contentType')
    ? readEnum(obj.contentType, 'contentType', CONTENT_TYPES, issues)
    : DEFAULT_CONTENT_TYPE;
  const url = has(obj, 'url')
    ? readString(obj.url, 'url', { min: 1, max: LIMITS.url }, issues)
    : missing(issues, 'url', 'is required');
  if (url !== undefined && hasControlChars(url))
    issues.add('url', 'must not contain control characters');
  const headers = readHeaders(obj, issues);
  let templateBody: string | undefined;
  if (has(obj, 'body')) {
    templateBody = readString(obj.body, 'body', { max: LIMITS.body }, issues);
  } else if (contentType === 'application/json') {
    templateBody = DEFAULT_JSON_BODY;
  } else if (contentType !== undefined) {
    issues.add('body', `is required for ${contentType}`);
  }
  const strict = has(obj, 'strict') ? readBoolean(obj.strict, 'strict', issues) : undefined;
  const rateLimitPerSecond = readRateLimit(obj, issues);
  const auth = readAuth(obj, mode, issues);
  const signingSecret = readSigningSecret(obj, mode, issues);
  const signing = readSigning(obj, issues);
  checkOneSigningMethod(signing, signingSecret, issues);
  const maxConcurrency = readMaxConcurrency(obj, issues);
  // Omitted or null: no conditions (PUT replaces the whole definition).
  const parsedConditions =
    has(obj, 'conditions') && obj.conditions !== null
      ? parseConditions(obj.conditions)
      : { conditions: undefined, issues: [] };
  let version: number | undefined;
  if (mode === 'replace' && has(obj, 'version')) {
    if (typeof obj.version === 'number' && Number.isInteger(obj.version) && obj.version >= 1)
      version = obj.version;
    else issues.add('version', 'must be a positive integer (the version you read)');
  }
  const id =
    mode === 'replace' && has(obj, 'id')
      ? readString(obj.id, 'id', { min: 1, max: 256 }, issues)
      : undefined;
  if (mode === 'replace') {
    for (const key of ['createdAt', 'updatedAt'] as const) {
      if (has(obj, key) && typeof obj[key] !== 'string')
        issues.add(key, 'is read-only; if sent it must be a string');
    }
    for (const key of ['publicKey', 'signingGraceUntil'] as const) {
      if (has(obj, key) && obj[key] !== null && typeof obj[key] !== 'string')
        issues.add(key, 'is read-only; if sent it must be a string or null');
    }
  }
  if (parsedConditions.issues.length > 0) {
    // Conditions alone at fault: their own code; otherwise every problem under VALIDATION_ERROR.
    if (issues.ok) {
      throw new InvalidConditionsError(
        `Invalid conditions: ${parsedConditions.issues
          .slice(0, 3)
          .map((d) => `${d.path}: ${d.message}`)
          .join('; ')}${parsedConditions.issues.length > 3 ? '; ...' : ''}`,
        parsedConditions.issues,
      );
    }
    issues.details.push(...parsedConditions.issues);
  }
  issues.throwIfAny('Invalid webhook definition');

  return {
    fields: {
      // Every read below added an issue when it returned undefined: none did.
      name: required(name, 'name'),
      events: required(events, 'events'),
      enabled: required(enabled, 'enabled'),
      method: required(method, 'method'),
      url: required(url, 'url'),
      contentType: required(contentType, 'contentType'),
      headers: required(headers, 'headers'),
      body: required(templateBody, 'body'),
      ...(strict !== undefined ? { strict } : {}),
      ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
      ...(parsedConditions.conditions ? { conditions: parsedConditions.conditions } : {}),
      ...(rateLimitPerSecond !== undefined ? { rateLimitPerSecond } : {}),
    },
    auth,
    signingSecret,
    signing,
    id,
    version,
  };
}

/** Optional; a JSON integer within MAX_CONCURRENCY (absent means the default). */
function readMaxConcurrency(obj: Json, issues: Issues): number | undefined {
  if (!has(obj, 'maxConcurrency')) return undefined;
  const { min, max } = MAX_CONCURRENCY;
  if (typeof obj.maxConcurrency !== 'number') {
    issues.add('maxConcurrency', `must be an integer from ${min} to ${max}`);
    return undefined;
  }
  return readInteger(obj.maxConcurrency, 'maxConcurrency', min, max, issues);
}

function missing(issues: Issues, path: string, message: string): undefined {
  issues.add(path, message);
  return undefined;
}

function readEvents(obj: Json, issues: Issues): string[] | undefined {
  if (!has(obj, 'events')) {
    issues.add('events', 'is required (a list of event types, or ["*"])');
    return undefined;
  }
  const value = obj.events;
  if (!Array.isArray(value) || value.length === 0) {
    issues.add('events', 'must be a non-empty list of event types (or "*")');
    return undefined;
  }
  if (value.length > LIMITS.events) {
    issues.add('events', `must hold at most ${LIMITS.events} event types`);
    return undefined;
  }
  const out: string[] = [];
  value.forEach((item, i) => {
    const path = joinPath('events', i);
    if (item === '*') {
      out.push(item);
      return;
    }
    const type = readString(item, path, { min: 1, max: LIMITS.eventType }, issues);
    if (type === undefined) return;
    if (type.trim() === '' || hasControlChars(type)) {
      issues.add(path, 'must be "*" or an event type (not blank, no control characters)');
      return;
    }
    const platformProblem = subscriptionProblem(type);
    if (platformProblem) {
      issues.add(path, platformProblem);
      return;
    }
    out.push(type);
  });
  return [...new Set(out)];
}

function readHeaders(obj: Json, issues: Issues): Record<string, string> | undefined {
  if (!has(obj, 'headers')) return {};
  const value = obj.headers;
  if (!isObject(value)) {
    issues.add('headers', 'must be an object of header name -> value template');
    return undefined;
  }
  const entries = Object.entries(value);
  if (entries.length > LIMITS.headers) {
    issues.add('headers', `must hold at most ${LIMITS.headers} headers`);
    return undefined;
  }
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [name, template] of entries) {
    if (name.length > LIMITS.headerName) {
      // The name would be an attribute name of the stored item; the path shows its start only.
      issues.add(
        joinPath('headers', `${name.slice(0, 32)}...`),
        `is a header name of ${name.length} characters; at most ${LIMITS.headerName}`,
      );
      continue;
    }
    const path = joinPath('headers', name);
    const lower = name.toLowerCase();
    if (!isHeaderName(name)) {
      issues.add(path, 'is not a valid header name (RFC 7230 token characters only)');
      continue;
    }
    if (isReservedHeader(lower)) {
      issues.add(
        path,
        lower === 'content-type'
          ? 'is reserved: set contentType instead'
          : lower === 'authorization'
            ? 'is reserved: configure auth instead (it is added at send time)'
            : 'is reserved: the sender sets it at send time',
      );
      continue;
    }
    if (seen.has(lower)) {
      issues.add(path, 'is given twice (header names are case-insensitive)');
      continue;
    }
    seen.add(lower);
    const v = readString(template, path, { max: LIMITS.headerValue }, issues);
    if (v === undefined) continue;
    if (hasControlChars(v.replace(/\t/g, ' '))) {
      issues.add(path, 'must not contain control characters (CR, LF, NUL, ...)');
      continue;
    }
    out[name] = v;
  }
  return out;
}

function readAuth(
  obj: Json,
  mode: 'create' | 'replace',
  issues: Issues,
): AuthInput | null | undefined {
  if (!Object.hasOwn(obj, 'auth') || obj.auth === undefined) return undefined;
  if (obj.auth === null) return null;
  const auth = readObject(obj.auth, 'auth', ['type', 'username', 'password'], issues);
  if (!isObject(obj.auth)) return undefined;
  if (auth.type !== 'basic') issues.add('auth.type', 'must be "basic"');
  let username = has(auth, 'username')
    ? readString(auth.username, 'auth.username', { min: 1, max: LIMITS.username }, issues)
    : missing(issues, 'auth.username', 'is required');
  if (username !== undefined && (username.includes(':') || hasControlChars(username))) {
    issues.add('auth.username', 'must not contain ":" or control characters');
    username = undefined;
  }
  let password: string | undefined;
  const keep = !has(auth, 'password') || auth.password === MASKED_PASSWORD;
  if (keep) {
    if (mode === 'create') issues.add('auth.password', 'is required');
  } else {
    password = readString(auth.password, 'auth.password', { min: 1, max: LIMITS.password }, issues);
    if (password !== undefined && hasControlChars(password)) {
      issues.add('auth.password', 'must not contain control characters');
      password = undefined;
    }
  }
  if (username === undefined) return undefined;
  return { type: 'basic', username, password };
}

function readSigningSecret(
  obj: Json,
  mode: 'create' | 'replace',
  issues: Issues,
): string | null | undefined {
  if (!Object.hasOwn(obj, 'signingSecret') || obj.signingSecret === undefined) return undefined;
  const value = obj.signingSecret;
  if (value === null) return null;
  if (value === GENERATE_SIGNING_SECRET) return value;
  if (value === MASKED_SIGNING_SECRET) {
    if (mode === 'create')
      issues.add('signingSecret', 'is masked; send a secret, "generate", or leave it out');
    return value;
  }
  if (typeof value !== 'string' || !isValidSigningSecret(value)) {
    issues.add(
      'signingSecret',
      'must be "whsec_" + base64 of 24 to 64 random bytes, or "generate"',
    );
    return undefined;
  }
  return value;
}

/** `rateLimitPerSecond`: optional, an integer from 1 to 10000 (null or absent: no limit). */
export const MAX_RATE_LIMIT_PER_SECOND = 10_000;

function readRateLimit(obj: Record<string, unknown>, issues: Issues): number | undefined {
  if (!Object.hasOwn(obj, 'rateLimitPerSecond')) return undefined;
  const value = obj.rateLimitPerSecond;
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'number') {
    issues.add('rateLimitPerSecond', `must be an integer from 1 to ${MAX_RATE_LIMIT_PER_SECOND}`);
    return undefined;
  }
  return readInteger(value, 'rateLimitPerSecond', 1, MAX_RATE_LIMIT_PER_SECOND, issues);
}
