/**
 * How a webhook signs, as the API takes and shows it, and rotation of its key.
 *
 * - `signingSecret`: `whsec_...` (HMAC, `v1`), `"generate"`, `"whsec_***"` (keep), null (none).
 * - `signing`: `{"scheme":"ed25519"}` makes the platform generate an ed25519 key pair (`v1a`);
 *   the private key never leaves the platform, the definition shows `publicKey` (`whpk_...`).
 *   On replace, the same scheme keeps the pair; null removes it. A webhook signs one way: both
 *   a new signing secret and `signing` in one body is refused.
 * - `POST /webhooks/{id}/signing-secrets/rotate {"graceHours":24}` makes a new key of the
 *   webhook's scheme (shown once: `{"secret"}` or `{"publicKey"}`); the old key keeps signing
 *   beside it until the grace period ends (default 24 h, at most 168 h, 0 switches at once).
 */
import { ConflictError } from '../errors';
import type { WebhookDefinition } from '../model';
import { generateSigningSecret } from '../signing';
import {
  DEFAULT_GRACE_HOURS,
  generateEd25519KeyPair,
  graceEndsAt,
  liveRetiredKeys,
  MAX_GRACE_HOURS,
  SIGNING_SCHEMES,
  type SigningScheme,
} from '../signing-keys';
import { has, type Issues, isObject, type Json, readEnum, readObject } from './validation';
import { GENERATE_SIGNING_SECRET, MASKED_SIGNING_SECRET } from './webhook-view';

export interface SigningInput {
  readonly scheme: SigningScheme;
}

/** `signing` of a create or replace body: undefined when not given, null to remove. */
export function readSigning(obj: Json, issues: Issues): SigningInput | null | undefined {
  if (!Object.hasOwn(obj, 'signing') || obj.signing === undefined) return undefined;
  if (obj.signing === null) return null;
  const signing = readObject(obj.signing, 'signing', ['scheme'], issues);
  if (!isObject(obj.signing)) return undefined;
  if (!has(signing, 'scheme')) {
    issues.add('signing.scheme', `is required (${SIGNING_SCHEMES.join(', ')})`);
    return undefined;
  }
  const scheme = readEnum(signing.scheme, 'signing.scheme', SIGNING_SCHEMES, issues);
  return scheme === undefined ? undefined : { scheme };
}

/** A new secret given beside `signing` (masked or null are fine: they keep or drop the secret). */
export function checkOneSigningMethod(
  signing: SigningInput | null | undefined,
  signingSecret: string | null | undefined,
  issues: Issues,
): void {
  if (
    signing &&
    signingSecret !== undefined &&
    signingSecret !== null &&
    signingSecret !== MASKED_SIGNING_SECRET
  ) {
    issues.add('signing', 'cannot be combined with a signing secret: a webhook signs one way');
  }
}

type SigningFields = Pick<WebhookDefinition, 'signingSecret' | 'signingKey' | 'retiredSigningKeys'>;

/**
 * The signing fields a create (current undefined) or replace leads to, and whether a new
 * secret was generated (shown in that one response). Keys still in a grace period stay while
 * the webhook keeps its scheme; changing or removing the key ends them.
 */
export function resolveSigning(
  input: { signing: SigningInput | null | undefined; signingSecret: string | null | undefined },
  current: SigningFields | undefined,
  now: Date,
): { fields: SigningFields; revealSecret: boolean } {
  const { signing, signingSecret } = input;
  if (signing) {
    const signingKey = current?.signingKey ?? generateEd25519KeyPair();
    const retired = current?.signingKey ? liveRetiredKeys(current.retiredSigningKeys, now) : [];
    return {
      fields: { signingKey, ...(retired.length > 0 ? { retiredSigningKeys: retired } : {}) },
      revealSecret: false,
    };
  }
  const keepKey = signing === undefined && signingSecret === undefined && current?.signingKey;
  if (keepKey) return { fields: keptFields(current, now), revealSecret: false };
  const keepSecret =
    signingSecret === undefined || signingSecret === MASKED_SIGNING_SECRET
      ? current?.signingSecret
      : undefined;
  if (keepSecret !== undefined) {
    return {
      fields: { ...keptFields({ ...current, signingKey: undefined }, now) },
      revealSecret: false,
    };
  }
  if (signingSecret === GENERATE_SIGNING_SECRET)
    return { fields: { signingSecret: generateSigningSecret() }, revealSecret: true };
  if (typeof signingSecret === 'string' && signingSecret !== MASKED_SIGNING_SECRET)
    return { fields: { signingSecret }, revealSecret: false };
  return { fields: {}, revealSecret: false };
}

function keptFields(current: SigningFields, now: Date): SigningFields {
  const retired = liveRetiredKeys(current.retiredSigningKeys, now);
  return {
    ...(current.signingKey ? { signingKey: current.signingKey } : {}),
    ...(current.signingSecret && !current.signingKey
      ? { signingSecret: current.signingSecret }
      : {}),
    ...(retired.length > 0 ? { retiredSigningKeys: retired } : {}),
  };
}

/** What a definition shows about its signing (nothing secret). */
export interface SigningView {
  readonly signing: { readonly scheme: SigningScheme } | null;
  /** `whpk_...` of an ed25519 webhook, for receivers to verify with. */
  readonly publicKey: string | null;
  /** Until when keys replaced by a rotation still sign beside the current one. */
  readonly signingGraceUntil: string | null;
}

export function signingView(def: SigningFields, now: Date): SigningView {
  return {
    signing: def.signingKey ? { scheme: 'ed25519' } : null,
    publicKey: def.signingKey?.publicKey ?? null,
    signingGraceUntil: graceEndsAt(def, now),
  };
}

/** Body of a rotation: `{"graceHours": 0..168}`, default 24. */
export function parseRotation(body: unknown, issues: Issues): number {
  if (body === undefined) return DEFAULT_GRACE_HOURS;
  const obj = readObject(body, '', ['graceHours'], issues);
  if (!has(obj, 'graceHours')) return DEFAULT_GRACE_HOURS;
  const value = obj.graceHours;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    value > MAX_GRACE_HOURS
  ) {
    issues.add('graceHours', `must be a number of hours from 0 to ${MAX_GRACE_HOURS}`);
    return DEFAULT_GRACE_HOURS;
  }
  return value;
}

export function noSigningKey(id: string): ConflictError {
  return new ConflictError(
    `Webhook ${id} does not sign requests: set signingSecret or signing before rotating.`,
  );
}
