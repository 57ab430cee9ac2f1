/**
 * Signing keys of a webhook and their rotation (Standard Webhooks, https://www.standardwebhooks.com):
 * symmetric `v1` signatures (HMAC-SHA256 with a `whsec_` secret) or asymmetric `v1a`
 * signatures (ed25519 with a key pair the platform makes; receivers verify with the `whpk_`
 * public key alone). A rotation makes a new key and keeps the old one signing beside it for a
 * grace period, so `webhook-signature` carries both (space-separated) and a receiver that
 * still holds the old key keeps accepting requests.
 */
import {
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  sign as signWith,
} from 'node:crypto';
import type { RetiredSigningKey, SigningKeyPair, WebhookDefinition } from './model';
import { required } from './required';
import { generateSigningSecret, signPayload } from './signing';

export const PUBLIC_KEY_PREFIX = 'whpk_';
export const PRIVATE_KEY_PREFIX = 'whsk_';
export const SIGNING_SCHEMES = ['ed25519'] as const;
export type SigningScheme = (typeof SIGNING_SCHEMES)[number];

export const DEFAULT_GRACE_HOURS = 24;
export const MAX_GRACE_HOURS = 168;
/** Keys kept signing beside the current one at most (older ones stop first). */
export const MAX_RETIRED_KEYS = 4;

const b64 = (buf: Buffer) => buf.toString('base64');
const b64url = (text: string) => Buffer.from(text, 'base64').toString('base64url');

/** A fresh ed25519 pair: `whsk_` + base64 of the 32-byte seed, `whpk_` + base64 of the public key. */
export function generateEd25519KeyPair(): SigningKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as { d: string; x: string };
  return {
    privateKey: PRIVATE_KEY_PREFIX + b64(Buffer.from(jwk.d, 'base64url')),
    publicKey: PUBLIC_KEY_PREFIX + b64(Buffer.from(jwk.x, 'base64url')),
  };
}

/** Decoded private keys by their text: signing runs on every attempt, keys change rarely. */
const privateKeys = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 1000;

function privateKeyObject(pair: SigningKeyPair): KeyObject {
  let key = privateKeys.get(pair.privateKey);
  if (!key) {
    key = createPrivateKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        d: b64url(pair.privateKey.slice(PRIVATE_KEY_PREFIX.length)),
        x: b64url(pair.publicKey.slice(PUBLIC_KEY_PREFIX.length)),
      },
      format: 'jwk',
    });
    if (privateKeys.size >= MAX_CACHED_KEYS)
      privateKeys.delete(privateKeys.keys().next().value as string);
    privateKeys.set(pair.privateKey, key);
  }
  return key;
}

/** `v1a,` + base64(ed25519 signature of `${msgId}.${timestamp}.${body}`). */
export function signEd25519(
  pair: SigningKeyPair,
  msgId: string,
  timestampSeconds: number,
  body: string,
): string {
  const data = Buffer.from(`${msgId}.${timestampSeconds}.${body}`, 'utf8');
  return `v1a,${b64(signWith(null, data, privateKeyObject(pair)))}`;
}

type SigningFields = Pick<WebhookDefinition, 'signingSecret' | 'signingKey' | 'retiredSigningKeys'>;

/** The definition's scheme: 'ed25519', 'hmac-sha256' (a `whsec_` secret), or none. */
export function signingSchemeOf(def: SigningFields): 'ed25519' | 'hmac-sha256' | null {
  if (def.signingKey) return 'ed25519';
  if (def.signingSecret) return 'hmac-sha256';
  return null;
}

/**
 * The `webhook-signature` value: the current key's signature, then those of keys still in a
 * rotation's grace period at `now`, space-separated; undefined when the webhook does not sign.
 */
export function signatureHeader(
  def: SigningFields,
  msgId: string,
  now: Date,
  body: string,
): string | undefined {
  const timestamp = Math.floor(now.getTime() / 1000);
  const signatures: string[] = [];
  if (def.signingKey) signatures.push(signEd25519(def.signingKey, msgId, timestamp, body));
  else if (def.signingSecret)
    signatures.push(signPayload(def.signingSecret, msgId, timestamp, body));
  for (const retired of liveRetiredKeys(def.retiredSigningKeys, now)) {
    if (retired.keyPair) signatures.push(signEd25519(retired.keyPair, msgId, timestamp, body));
    else if (retired.secret) signatures.push(signPayload(retired.secret, msgId, timestamp, body));
  }
  return signatures.length > 0 ? signatures.join(' ') : undefined;
}

/** Retired keys whose grace period has not ended at `now`. */
export function liveRetiredKeys(
  retired: readonly RetiredSigningKey[] | undefined,
  now: Date,
): RetiredSigningKey[] {
  const at = now.getTime();
  return (retired ?? []).filter((k) => Date.parse(k.expiresAt) > at);
}

/** When the last retired key stops signing; null when none is live. */
export function graceEndsAt(def: SigningFields, now: Date): string | null {
  const live = liveRetiredKeys(def.retiredSigningKeys, now);
  return (
    live
      .map((k) => k.expiresAt)
      .sort()
      .at(-1) ?? null
  );
}

export type RotationShown = { readonly secret: string } | { readonly publicKey: string };

/**
 * A new key of the same scheme; the current one keeps signing until now + graceHours (not at
 * all with 0). Expired retired keys are dropped, and at most MAX_RETIRED_KEYS are kept.
 */
export function rotateSigningKey(
  def: WebhookDefinition,
  now: Date,
  graceHours: number,
): { readonly fields: SigningFields; readonly shown: RotationShown } | undefined {
  const scheme = signingSchemeOf(def);
  if (scheme === null) return undefined;
  const expiresAt = new Date(now.getTime() + graceHours * 3_600_000).toISOString();
  const retired = liveRetiredKeys(def.retiredSigningKeys, now);
  if (graceHours > 0) {
    retired.unshift(
      def.signingKey
        ? { expiresAt, keyPair: def.signingKey }
        : { expiresAt, secret: required(def.signingSecret, 'signingSecret of an hmac webhook') },
    );
  }
  const kept = retired.slice(0, MAX_RETIRED_KEYS);
  const retiredField = kept.length > 0 ? { retiredSigningKeys: kept } : {};
  if (scheme === 'ed25519') {
    const signingKey = generateEd25519KeyPair();
    return {
      fields: { signingKey, ...retiredField },
      shown: { publicKey: signingKey.publicKey },
    };
  }
  const signingSecret = generateSigningSecret();
  return { fields: { signingSecret, ...retiredField }, shown: { secret: signingSecret } };
}
