/**
 * Identifier generation. Ids are opaque to clients; internally they carry a type prefix and
 * use Crockford's base32 alphabet, whose characters sort in ASCII order, so time-prefixed ids
 * sort by creation time as plain strings.
 */
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_CHARS = 16; // 80 bits, as in ULID
const TIME_CHARS = 10; // 48 bits of milliseconds, as in ULID

/** `n` random base32 characters (each byte's low 5 bits: unbiased because 256 % 32 === 0). */
function randomBase32(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte & 31];
  return out;
}

/** First `chars` base32 characters of a byte buffer, most significant bits first. */
function bytesToBase32(bytes: Uint8Array, chars: number): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  let i = 0;
  while (out.length < chars) {
    if (bits < 5) {
      acc = ((acc << 8) | (bytes[i++] ?? 0)) & 0xffff;
      bits += 8;
    }
    out += ALPHABET[(acc >> (bits - 5)) & 31];
    bits -= 5;
  }
  return out;
}

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < TIME_CHARS; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

// Monotonic ULID state: within one millisecond the random part is incremented so that ids
// created by this process still sort in creation order.
let lastTime = -1;
let lastRandom: number[] = [];

function incrementBase32(digits: number[]): boolean {
  for (let i = digits.length - 1; i >= 0; i--) {
    const digit = digits[i] ?? 0;
    if (digit < 31) {
      digits[i] = digit + 1;
      return true;
    }
    digits[i] = 0;
  }
  return false;
}

/** A ULID (26 chars: 10 of time, 16 random), monotonic within this process. */
export function ulid(): string {
  let nowMs = Date.now();
  if (nowMs <= lastTime && incrementBase32(lastRandom)) {
    nowMs = lastTime;
  } else {
    const bytes = randomBytes(RANDOM_CHARS);
    lastRandom = Array.from(bytes, (b) => b & 31);
    lastTime = Math.max(nowMs, lastTime);
    nowMs = lastTime;
  }
  let rand = '';
  for (const d of lastRandom) rand += ALPHABET[d];
  return encodeTime(nowMs) + rand;
}

/** The creation time (ms since the epoch) encoded in a ULID or a prefixed ULID id. */
export function ulidTime(id: string): number {
  const time = id.slice(id.indexOf('_') + 1).slice(0, TIME_CHARS);
  let ms = 0;
  for (const c of time) {
    const digit = ALPHABET.indexOf(c);
    if (digit < 0) throw new Error(`not a ULID: ${id}`);
    ms = ms * 32 + digit;
  }
  return ms;
}

/** 'wh_' + 26 random base32 chars (130 bits). */
export function newWebhookId(): string {
  return `wh_${randomBase32(26)}`;
}

/** 'evt_' + ULID: sorts by creation time. */
export function newEventId(): string {
  return `evt_${ulid()}`;
}

/** 'job_' + ULID. */
export function newJobId(): string {
  return `job_${ulid()}`;
}

/**
 * 'ntf_' + 26 base32 chars of sha256(webhookId '\n' eventId). Deterministic, so a repeated
 * producer event id or a duplicated queue message maps to the same notification. Event ids
 * cannot contain '\n' (see events.ts), so distinct pairs give distinct inputs.
 */
export function notificationIdFor(webhookId: string, eventId: string): string {
  const digest = createHash('sha256').update(`${webhookId}\n${eventId}`, 'utf8').digest();
  return `ntf_${bytesToBase32(digest, 26)}`;
}

/**
 * 'evt_platform_' + 26 base32 chars of sha256(type '\n' webhookId '\n' key): an operational
 * event published twice for the same occurrence (a retried task, a redelivered job) gets the
 * same id, so its notifications are created once.
 */
export function operationalEventIdFor(type: string, webhookId: string, key: string): string {
  const digest = createHash('sha256').update(`${type}\n${webhookId}\n${key}`, 'utf8').digest();
  return `evt_platform_${bytesToBase32(digest, 26)}`;
}
