import { createPublicKey, verify } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { WebhookDefinition } from '../../lambdas/core/model';
import { generateSigningSecret, sendTimeHeaders } from '../../lambdas/core/signing';
import {
  generateEd25519KeyPair,
  graceEndsAt,
  rotateSigningKey,
  signatureHeader,
} from '../../lambdas/core/signing-keys';

const body = '{"loan":"L-1","note":"Zoë 🎉"}';
const T0 = new Date('2026-12-01T10:00:00.000Z');
const hours = (h: number) => new Date(T0.getTime() + h * 3_600_000);

function base(fields: Partial<WebhookDefinition>): WebhookDefinition {
  return {
    id: 'wh_1',
    name: 'n',
    events: ['*'],
    enabled: true,
    method: 'POST',
    url: 'https://x.example/',
    contentType: 'application/json',
    headers: {},
    body: '{}',
    version: 1,
    createdAt: T0.toISOString(),
    updatedAt: T0.toISOString(),
    ...fields,
  };
}

/** What a receiver does with only the `whpk_` public key: node:crypto, no platform code. */
function verifyEd25519(publicKey: string, headers: Record<string, string>, payload: string) {
  const key = createPublicKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from(publicKey.replace(/^whpk_/, ''), 'base64').toString('base64url'),
    },
    format: 'jwk',
  });
  const signed = Buffer.from(
    `${headers['webhook-id']}.${headers['webhook-timestamp']}.${payload}`,
    'utf8',
  );
  return headers['webhook-signature']!.split(' ')
    .filter((s) => s.startsWith('v1a,'))
    .some((s) => verify(null, signed, key, Buffer.from(s.slice(4), 'base64')));
}

/** standardwebhooks checks the timestamp against the clock: verify at the signing time. */
function verifiesWith(secret: string, headers: Record<string, string>, payload = body): boolean {
  const now = Date.now;
  Date.now = () => Number(headers['webhook-timestamp']) * 1000;
  try {
    new Webhook(secret).verify(payload, headers);
    return true;
  } catch {
    return false;
  } finally {
    Date.now = now;
  }
}

describe('ed25519 signatures', () => {
  it('make whsk_/whpk_ keys of 32 bytes each', () => {
    const pair = generateEd25519KeyPair();
    expect(pair.publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(pair.privateKey.slice(5), 'base64')).toHaveLength(32);
  });

  it('sign v1a over id.timestamp.body, verifiable from the public key alone', () => {
    const pair = generateEd25519KeyPair();
    const headers = sendTimeHeaders(base({ signingKey: pair }), 'ntf_A', T0, body);
    expect(headers['webhook-signature']).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(verifyEd25519(pair.publicKey, headers, body)).toBe(true);
  });

  it('fail for a tampered body, another message id or another key', () => {
    const pair = generateEd25519KeyPair();
    const headers = sendTimeHeaders(base({ signingKey: pair }), 'ntf_A', T0, body);
    expect(verifyEd25519(pair.publicKey, headers, body.replace('L-1', 'L-2'))).toBe(false);
    expect(verifyEd25519(pair.publicKey, { ...headers, 'webhook-id': 'ntf_B' }, body)).toBe(false);
    expect(verifyEd25519(generateEd25519KeyPair().publicKey, headers, body)).toBe(false);
  });
});

describe('rotation', () => {
  it('signs with both secrets during the grace period, each verifiable by the library, then with the new one only', () => {
    const old = generateSigningSecret();
    const def = base({ signingSecret: old });
    const rotated = rotateSigningKey(def, T0, 24)!;
    const next = { ...def, ...rotated.fields };
    expect(rotated.shown).toEqual({ secret: next.signingSecret });

    const during = sendTimeHeaders(next, 'ntf_A', hours(23.9), body);
    expect(during['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verifiesWith(old, during)).toBe(true);
    expect(verifiesWith(next.signingSecret!, during)).toBe(true);
    expect(graceEndsAt(next, hours(1))).toBe(hours(24).toISOString());

    const after = sendTimeHeaders(next, 'ntf_A', hours(24), body);
    expect(after['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(verifiesWith(old, after)).toBe(false);
    expect(verifiesWith(next.signingSecret!, after)).toBe(true);
    expect(graceEndsAt(next, hours(24))).toBeNull();
  });

  it('works for ed25519 keys too: both public keys verify during the grace period, the new one after', () => {
    const oldPair = generateEd25519KeyPair();
    const def = base({ signingKey: oldPair });
    const rotated = rotateSigningKey(def, T0, 2)!;
    const next = { ...def, ...rotated.fields };
    expect(rotated.shown).toEqual({ publicKey: next.signingKey!.publicKey });
    expect(next.signingKey!.publicKey).not.toBe(oldPair.publicKey);

    const during = sendTimeHeaders(next, 'ntf_A', hours(1), body);
    expect(verifyEd25519(oldPair.publicKey, during, body)).toBe(true);
    expect(verifyEd25519(next.signingKey!.publicKey, during, body)).toBe(true);
    const after = sendTimeHeaders(next, 'ntf_A', hours(2), body);
    expect(verifyEd25519(oldPair.publicKey, after, body)).toBe(false);
    expect(verifyEd25519(next.signingKey!.publicKey, after, body)).toBe(true);
  });

  it('with no grace period switches at once, and keeps at most four older keys', () => {
    let def = base({ signingSecret: generateSigningSecret() });
    const immediate = rotateSigningKey(def, T0, 0)!;
    expect(immediate.fields.retiredSigningKeys).toBeUndefined();
    for (let i = 0; i < 6; i++) def = { ...def, ...rotateSigningKey(def, T0, 24)!.fields };
    expect(def.retiredSigningKeys).toHaveLength(4);
    expect(signatureHeader(def, 'ntf_A', T0, body)!.split(' ')).toHaveLength(5);
  });

  it('keeps the keys the latest rotations replaced when it drops older ones', () => {
    let def = base({ signingSecret: generateSigningSecret() });
    const replaced: string[] = [];
    for (let i = 0; i < 6; i++) {
      replaced.push(def.signingSecret!);
      def = { ...def, ...rotateSigningKey(def, hours(i), 24)!.fields };
    }
    const headers = sendTimeHeaders(def, 'ntf_A', hours(6), body);
    for (const secret of replaced.slice(2)) expect(verifiesWith(secret, headers)).toBe(true);
    for (const secret of replaced.slice(0, 2)) expect(verifiesWith(secret, headers)).toBe(false);
  });

  it('drops the keys whose grace period has ended', () => {
    const expired = generateSigningSecret();
    const current = generateSigningSecret();
    const def = base({
      signingSecret: current,
      retiredSigningKeys: [{ expiresAt: hours(-1).toISOString(), secret: expired }],
    });
    const rotated = rotateSigningKey(def, T0, 24)!;
    expect(rotated.fields.retiredSigningKeys).toEqual([
      { expiresAt: hours(24).toISOString(), secret: current },
    ]);
  });

  it('is refused for a webhook that does not sign', () => {
    expect(rotateSigningKey(base({}), T0, 24)).toBeUndefined();
  });
});
