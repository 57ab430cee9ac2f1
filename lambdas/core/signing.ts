/**
 * Send-time headers: Standard Webhooks (https://www.standardwebhooks.com) identification and
 * signature, and Basic Auth. They are computed per attempt and never stored with the request.
 */
import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import type { WebhookDefinition } from './model';
import { signatureHeader } from './signing-keys';

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;

/** Decoded keys by secret: signing runs on every attempt, secrets change rarely. */
const keys = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 1000;

function secretKey(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
    key = createSecretKey(Buffer.from(encoded, 'base64'));
    if (keys.size >= MAX_CACHED_KEYS) keys.delete(keys.keys().next().value as string);
    keys.set(secret, key);
  }
  return key;
}

/** `v1,` + base64(HMAC-SHA256(key, `${msgId}.${timestamp}.${body}`)), key = base64-decoded secret. */
export function signPayload(
  secret: string,
  msgId: string,
  timestampSeconds: number,
  body: string,
): string {
  const mac = createHmac('sha256', secretKey(secret))
    .update(`${msgId}.${timestampSeconds}.`, 'utf8')
    .update(body, 'utf8')
    .digest('base64');
  return `v1,${mac}`;
}

/** 'whsec_' + base64 of 32 random bytes. */
export function generateSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** 'whsec_' followed by canonical base64 of 24..64 bytes. */
export function isValidSigningSecret(secret: string): boolean {
  if (typeof secret !== 'string' || !secret.startsWith(SECRET_PREFIX)) return false;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (encoded.length === 0 || encoded.length % 4 !== 0 || !BASE64.test(encoded)) return false;
  const bytes = Buffer.from(encoded, 'base64').length;
  return bytes >= MIN_SECRET_BYTES && bytes <= MAX_SECRET_BYTES;
}

/** `Basic base64(user:pass)`, UTF-8 (RFC 7617). */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * Headers added to the stored request at each attempt: webhook-id (the notification id, for
 * receiver-side deduplication), webhook-timestamp (seconds), webhook-signature when the
 * definition signs (its current key, and keys still in a rotation's grace period, separated
 * by spaces), authorization when it has Basic Auth.
 */
export function sendTimeHeaders(
  def: Pick<WebhookDefinition, 'auth' | 'signingSecret' | 'signingKey' | 'retiredSigningKeys'>,
  notificationId: string,
  now: Date,
  body: string,
): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  const headers: Record<string, string> = {
    'webhook-id': notificationId,
    'webhook-timestamp': String(timestamp),
  };
  const signature = signatureHeader(def, notificationId, now, body);
  if (signature !== undefined) headers['webhook-signature'] = signature;
  if (def.auth) {
    headers.authorization = basicAuthorization(def.auth.username, def.auth.password);
  }
  return headers;
}
