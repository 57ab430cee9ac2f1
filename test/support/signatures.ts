/**
 * How receivers check our signatures, for tests: the standardwebhooks library with a `whsec_`
 * secret, and node:crypto with nothing but a `whpk_` Ed25519 public key.
 */
import { createPublicKey, verify } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { ReceivedRequest } from './receivers';

export function headersOf(req: ReceivedRequest): Record<string, string> {
  return Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
}

export function signaturesOf(req: ReceivedRequest): string[] {
  return String(req.headers['webhook-signature']).split(' ');
}

/** A receiver's check with the standardwebhooks library and one `whsec_` secret. */
export function libraryAccepts(secret: string, req: ReceivedRequest): boolean {
  try {
    new Webhook(secret).verify(req.body, headersOf(req));
    return true;
  } catch {
    return false;
  }
}

/** A receiver's check with node:crypto and nothing but the `whpk_` public key. */
export function ed25519Accepts(publicKey: string, req: ReceivedRequest, body = req.body): boolean {
  const h = headersOf(req);
  const key = createPublicKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from(publicKey.slice('whpk_'.length), 'base64').toString('base64url'),
    },
    format: 'jwk',
  });
  const signed = Buffer.from(`${h['webhook-id']}.${h['webhook-timestamp']}.${body}`, 'utf8');
  return signaturesOf(req).some(
    (sig) =>
      sig.startsWith('v1a,') && verify(null, signed, key, Buffer.from(sig.slice(4), 'base64')),
  );
}
