/**
 * Data keys from KMS (GenerateDataKey with the stack's customer-managed key), cached per
 * container: one GenerateDataKey when a container first seals (and again after `maxAgeMs`),
 * one Decrypt per distinct wrapped key it opens. The encryption context pins every data key
 * to this use; KMS refuses to decrypt it under any other context.
 */
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { ENVELOPE_CONTEXT_KEY, ENVELOPE_CONTEXT_VALUE } from '../core/crypto/envelope';
import type { DataKey, DataKeyProvider } from '../ports';
import { PromiseCache } from './promise-cache';

const PREFIX = 'kms:';
const CONTEXT = { [ENVELOPE_CONTEXT_KEY]: ENVELOPE_CONTEXT_VALUE };
const MAX_UNWRAPPED = 1000;

export interface KmsDataKeyProviderOptions {
  /** How long one data key seals new values. Default 1 hour. */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

export class KmsDataKeyProvider implements DataKeyProvider {
  private pending: { key: Promise<DataKey>; until: number } | undefined;
  private readonly unwrapped = new PromiseCache<Buffer>(MAX_UNWRAPPED);
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: Pick<KMSClient, 'send'>,
    private readonly keyId: string,
    options: KmsDataKeyProviderOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 3_600_000;
    this.now = options.now ?? Date.now;
  }

  current(): Promise<DataKey> {
    const now = this.now();
    if (this.pending && this.pending.until > now) return this.pending.key;
    const key = this.generate();
    this.pending = { key, until: now + this.maxAgeMs };
    // A failed call is not cached: the next seal asks KMS again.
    key.catch(() => {
      if (this.pending?.key === key) this.pending = undefined;
    });
    return key;
  }

  unwrap(wrapped: string): Promise<Buffer> {
    if (!wrapped.startsWith(PREFIX))
      return Promise.reject(new Error('data key was not wrapped by KMS'));
    return this.unwrapped.get(wrapped, () => this.decrypt(wrapped.slice(PREFIX.length)));
  }

  private async generate(): Promise<DataKey> {
    const out = await this.client.send(
      new GenerateDataKeyCommand({
        KeyId: this.keyId,
        KeySpec: 'AES_256',
        EncryptionContext: CONTEXT,
      }),
    );
    if (!out.Plaintext || !out.CiphertextBlob) throw new Error('KMS returned no data key');
    const key = Buffer.from(out.Plaintext);
    const wrapped = PREFIX + Buffer.from(out.CiphertextBlob).toString('base64');
    this.unwrapped.set(wrapped, Promise.resolve(key));
    return { key, wrapped };
  }

  private async decrypt(blob: string): Promise<Buffer> {
    const out = await this.client.send(
      new DecryptCommand({
        KeyId: this.keyId,
        CiphertextBlob: Buffer.from(blob, 'base64'),
        EncryptionContext: CONTEXT,
      }),
    );
    if (!out.Plaintext) throw new Error('KMS returned no plaintext');
    return Buffer.from(out.Plaintext);
  }
}
