/**
 * How a definition's secrets are kept in a Webhooks item: every secret field (the Basic Auth
 * password, the signing secret, private signing keys and keys still in a rotation's grace
 * period) is taken out of the item and sealed together into one `secrets` attribute
 * (envelope encryption, associated data `webhook:<id>`), so the table alone never reveals a
 * secret. Items written before secrets were sealed carry them in the clear; they are read as
 * they are, and sealed the next time the definition is saved.
 */
import { type EnvelopeCipher, isSealed } from '../core/crypto/envelope';
import type { WebhookDefinition } from '../core/model';

export const SECRETS_ATTRIBUTE = 'secrets';

/** The secret parts of a definition, as sealed together. */
interface SecretParts {
  password?: string;
  signingSecret?: string;
  signingPrivateKey?: string;
  retiredSigningKeys?: WebhookDefinition['retiredSigningKeys'];
}

export function secretsAad(webhookId: string): string {
  return `webhook:${webhookId}`;
}

/** The item's attributes for a definition: everything but the secrets, plus the sealed secrets. */
export async function sealDefinition(
  def: WebhookDefinition,
  cipher: EnvelopeCipher,
): Promise<Record<string, unknown>> {
  const { auth, signingSecret, signingKey, retiredSigningKeys, ...rest } = def;
  const parts: SecretParts = {};
  if (auth) parts.password = auth.password;
  if (signingSecret !== undefined) parts.signingSecret = signingSecret;
  if (signingKey) parts.signingPrivateKey = signingKey.privateKey;
  if (retiredSigningKeys && retiredSigningKeys.length > 0)
    parts.retiredSigningKeys = retiredSigningKeys;
  const item: Record<string, unknown> = { ...rest };
  if (auth) item.auth = { type: auth.type, username: auth.username };
  if (signingKey) item.signingKey = { publicKey: signingKey.publicKey };
  if (Object.keys(parts).length > 0)
    item[SECRETS_ATTRIBUTE] = await cipher.seal(JSON.stringify(parts), secretsAad(def.id));
  return item;
}

/** A definition from its item: sealed secrets opened, clear ones (older items) taken as they are. */
export async function openDefinition(
  raw: Record<string, unknown>,
  cipher: EnvelopeCipher,
): Promise<WebhookDefinition> {
  const { [SECRETS_ATTRIBUTE]: sealed, ...rest } = raw;
  const def = rest as unknown as Mutable<WebhookDefinition>;
  if (!isSealed(sealed)) return def;
  const parts = JSON.parse(await cipher.open(sealed, secretsAad(def.id))) as SecretParts;
  if (def.auth && parts.password !== undefined)
    def.auth = { ...def.auth, password: parts.password };
  if (parts.signingSecret !== undefined) def.signingSecret = parts.signingSecret;
  if (def.signingKey && parts.signingPrivateKey !== undefined)
    def.signingKey = { publicKey: def.signingKey.publicKey, privateKey: parts.signingPrivateKey };
  if (parts.retiredSigningKeys) def.retiredSigningKeys = parts.retiredSigningKeys;
  return def;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
