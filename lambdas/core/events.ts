/**
 * Validation of producer events (POST /events), single or batch. Input is the parsed JSON
 * body; the event's `data` is passed through by reference, never merged into other objects,
 * so keys such as `__proto__` stay plain data.
 */

import { parseDateTime } from './date-time';
import {
  type ErrorDetail,
  PayloadTooLargeError,
  ReservedEventTypeError,
  ValidationError,
} from './errors';
import { newEventId } from './ids';
import type { EventEnvelope, WebhookDefinition } from './model';
import { isPlatformEventType, PLATFORM_EVENT_PREFIX, subscribesTo } from './subscriptions';

export const MAX_EVENT_BYTES = 256 * 1024;
export const MAX_BATCH_EVENTS = 100;
export const MAX_EVENT_TYPE_LENGTH = 256;
export const MAX_EVENT_ID_LENGTH = 256;

const EVENT_FIELDS = new Set(['type', 'id', 'occurredAt', 'data', 'subject']);
export const MAX_SUBJECT_LENGTH = 256;
/** At most this many details per error, so a hostile body cannot inflate the response. */
export const MAX_ERROR_DETAILS = 50;

function capped(details: ErrorDetail[]): ErrorDetail[] {
  if (details.length <= MAX_ERROR_DETAILS) return details;
  return [
    ...details.slice(0, MAX_ERROR_DETAILS),
    { message: `${details.length - MAX_ERROR_DETAILS} more problems not listed` },
  ];
}

// Control characters (C0, DEL, C1) and lone surrogates are refused in types and ids: they are
// matched, logged and hashed (notification ids join webhook id and event id with '\n').
const UNPRINTABLE = /[\p{Cc}\p{Cs}]/u;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function checkText(
  value: unknown,
  path: string,
  max: number,
  details: ErrorDetail[],
): value is string {
  if (typeof value !== 'string') {
    details.push({ path, message: `must be a string, got ${describe(value)}` });
    return false;
  }
  if (value.trim().length === 0) {
    details.push({ path, message: 'must not be empty' });
    return false;
  }
  if (value.length > max) {
    details.push({ path, message: `must be at most ${max} characters` });
    return false;
  }
  if (UNPRINTABLE.test(value)) {
    details.push({ path, message: 'must not contain control characters' });
    return false;
  }
  return true;
}

/** UTF-8 size of the event's JSON text. */
export function eventSizeBytes(input: unknown): number {
  return Buffer.byteLength(JSON.stringify(input) ?? '', 'utf8');
}

/** Validation without the size rule; collects every problem with paths under `prefix`. */
function checkEvent(input: unknown, prefix: string, details: ErrorDetail[], index?: number): void {
  const at = (path: string) => (prefix ? `${prefix}.${path}` : path);
  const push = (d: ErrorDetail) => details.push(index === undefined ? d : { ...d, index });
  const local: ErrorDetail[] = [];
  if (!isPlainObject(input)) {
    push({
      path: prefix || '$',
      message: `an event must be a JSON object, got ${describe(input)}`,
    });
    return;
  }
  for (const key of Object.keys(input)) {
    if (!EVENT_FIELDS.has(key)) local.push({ path: at(key), message: 'unknown field' });
  }
  if (!Object.hasOwn(input, 'type')) local.push({ path: at('type'), message: 'is required' });
  else if (checkText(input.type, at('type'), MAX_EVENT_TYPE_LENGTH, local) && input.type === '*') {
    local.push({
      path: at('type'),
      message: "'*' is reserved as the wildcard of webhook definitions",
    });
  }
  if (input.id !== undefined) checkText(input.id, at('id'), MAX_EVENT_ID_LENGTH, local);
  if (input.subject !== undefined)
    checkText(input.subject, at('subject'), MAX_SUBJECT_LENGTH, local);
  if (input.occurredAt !== undefined) {
    if (typeof input.occurredAt !== 'string' || parseDateTime(input.occurredAt) === undefined) {
      local.push({
        path: at('occurredAt'),
        message: 'must be an ISO 8601 date-time with offset, e.g. 2026-11-28T10:00:00Z',
      });
    }
  }
  if (!Object.hasOwn(input, 'data')) local.push({ path: at('data'), message: 'is required' });
  else if (!isPlainObject(input.data)) {
    local.push({ path: at('data'), message: `must be a JSON object, got ${describe(input.data)}` });
  }
  for (const d of local) push(d);
}

function envelope(input: Record<string, unknown>, now: Date): EventEnvelope {
  return {
    id: typeof input.id === 'string' ? input.id : newEventId(),
    type: input.type as string,
    occurredAt:
      (typeof input.occurredAt === 'string' ? parseDateTime(input.occurredAt) : undefined) ??
      now.toISOString(),
    data: input.data as Record<string, unknown>,
    ...(typeof input.subject === 'string' ? { subject: input.subject } : {}),
  };
}

/**
 * Validates one event. Throws ValidationError (details[].path) or PayloadTooLargeError.
 * `bodyBytes`: the size of the request body the event came in, as sent (whitespace and escapes
 * included), which the 256 KiB apply to; without it, the size of the event's JSON text.
 */
export function parseEvent(
  input: unknown,
  now: Date,
  opts: { readonly bodyBytes?: number } = {},
): EventEnvelope {
  const details: ErrorDetail[] = [];
  checkEvent(input, '', details);
  if (details.length > 0) throw new ValidationError('Invalid event', capped(details));
  const size = opts.bodyBytes ?? eventSizeBytes(input);
  if (size > MAX_EVENT_BYTES) {
    throw new PayloadTooLargeError(
      `Event is ${size} bytes; at most ${MAX_EVENT_BYTES} are allowed`,
      [{ message: `event is ${size} bytes, the limit is ${MAX_EVENT_BYTES}` }],
    );
  }
  return envelope(input as Record<string, unknown>, now);
}

/**
 * The event as delivery sees it: every delivery job travels as JSON through the delivery
 * queue, so a number JSON cannot carry (1e400 parsed to Infinity, -0) arrives as JSON encodes
 * it (null, 0). Preview renders this, so it shows what delivery will send.
 */
export function asQueued(event: EventEnvelope): EventEnvelope {
  return JSON.parse(JSON.stringify(event)) as EventEnvelope;
}

/**
 * Accepts a single event or a batch `{"events":[...]}` (1..100 events). A bad event in a batch
 * fails the whole batch; details name its index (`index`, path `events[i].field`). A single
 * event is measured by `bodyBytes` when given (the request body as sent); each event of a
 * batch by its JSON text (the batch's body as a whole is bounded where it is read).
 */
export function parseEvents(
  body: unknown,
  now: Date,
  opts: { readonly bodyBytes?: number } = {},
): { batch: boolean; events: EventEnvelope[] } {
  if (!isPlainObject(body) || !Object.hasOwn(body, 'events')) {
    return { batch: false, events: [parseEvent(body, now, opts)] };
  }
  const details: ErrorDetail[] = [];
  for (const key of Object.keys(body)) {
    if (key !== 'events') details.push({ path: key, message: 'unknown field' });
  }
  const list = body.events;
  if (!Array.isArray(list)) {
    details.push({ path: 'events', message: `must be an array, got ${describe(list)}` });
    throw new ValidationError('Invalid event batch', details);
  }
  if (list.length === 0) details.push({ path: 'events', message: 'must hold at least one event' });
  if (list.length > MAX_BATCH_EVENTS) {
    details.push({
      path: 'events',
      message: `must hold at most ${MAX_BATCH_EVENTS} events, got ${list.length}`,
    });
  }
  if (details.length > 0) throw new ValidationError('Invalid event batch', details);

  const tooLarge: ErrorDetail[] = [];
  list.forEach((event, index) => {
    const before = details.length;
    checkEvent(event, `events[${index}]`, details, index);
    if (details.length === before) {
      const size = eventSizeBytes(event);
      if (size > MAX_EVENT_BYTES) {
        tooLarge.push({
          index,
          path: `events[${index}]`,
          message: `event is ${size} bytes, the limit is ${MAX_EVENT_BYTES}`,
        });
      }
    }
  });
  if (details.length > 0) throw new ValidationError('Invalid event in batch', capped(details));
  if (tooLarge.length > 0) {
    throw new PayloadTooLargeError(
      `An event is larger than ${MAX_EVENT_BYTES} bytes`,
      capped(tooLarge),
    );
  }
  return {
    batch: true,
    events: list.map((event) => envelope(event as Record<string, unknown>, now)),
  };
}

/**
 * A definition takes an event type when it is enabled and lists the type or the wildcard
 * ('*' for producer types, 'platform.*' for operational ones). Conditions and the no-loop
 * rule come on top: see lambdas/core/matching.ts.
 */
export function definitionMatches(
  def: Pick<WebhookDefinition, 'enabled' | 'events'>,
  eventType: string,
): boolean {
  return def.enabled && subscribesTo(def.events, eventType);
}

/**
 * Producers may not publish the platform's own types: a `platform.` type in POST /events is
 * a 400 RESERVED_EVENT_TYPE (naming the index in a batch), and nothing is queued.
 */
export function refuseReservedTypes(events: readonly EventEnvelope[], batch: boolean): void {
  const details: ErrorDetail[] = [];
  events.forEach((event, index) => {
    if (!isPlatformEventType(event.type)) return;
    details.push({
      ...(batch ? { index, path: `events[${index}].type` } : { path: 'type' }),
      message: `types starting with "${PLATFORM_EVENT_PREFIX}" are published by the platform only`,
    });
  });
  if (details.length > 0) {
    throw new ReservedEventTypeError(
      `Event types starting with "${PLATFORM_EVENT_PREFIX}" are reserved for the platform's operational events`,
      capped(details),
    );
  }
}
