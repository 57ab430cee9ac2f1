/**
 * Local mode's data keys: a fresh random data key per process, wrapped (AES-256-GCM) under a
 * key derived from the installation key file. The wrapped form names the wrapping key by a
 * short fingerprint, so a value sealed under another key file fails clearly.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, seal } from '../core/crypto/aead';
import type { DataKey, DataKeyProvider } from '../ports';
import { deriveInstallationKey } from './installation-key';

const WRAP_AAD = 'webhooks:data-key';

export class LocalDataKeyProvider implements DataKeyProvider {
  private readonly wrappingKey: Buffer;
  private readonly fingerprint: string;
  private readonly dataKey: DataKey;
  private readonly unwrapped = new Map<string, Buffer>();

  constructor(keyFile: string) {
    this.wrappingKey = deriveInstallationKey(keyFile, 'data-key-wrap');
    this.fingerprint = createHash('sha256').update(this.wrappingKey).digest('hex').slice(0, 12);
    const key = randomBytes(32);
    const wrapped = `local:${this.fingerprint}:${seal(this.wrappingKey, key, WRAP_AAD).toString('base64')}`;
    this.dataKey = { key, wrapped };
    this.unwrapped.set(wrapped, key);
  }

  async current(): Promise<DataKey> {
    return this.dataKey;
  }

  async unwrap(wrapped: string): Promise<Buffer> {
    const hit = this.unwrapped.get(wrapped);
    if (hit) return hit;
    const [scheme, fingerprint, body] = wrapped.split(':');
    if (scheme !== 'local' || body === undefined)
      throw new Error('data key was not wrapped by a local key file');
    if (fingerprint !== this.fingerprint)
      throw new Error('data key was wrapped under another installation key file');
    const key = open(this.wrappingKey, Buffer.from(body, 'base64'), WRAP_AAD);
    if (this.unwrapped.size >= 1000) this.unwrapped.clear();
    this.unwrapped.set(wrapped, key);
    return key;
  }
}
