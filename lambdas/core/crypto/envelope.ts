/**
 * Envelope encryption of small secrets (Basic Auth passwords, signing secrets, private keys):
 * each value is sealed with a data key (AES-256-GCM), and the data key travels beside it
 * wrapped by the key provider (KMS on AWS, the installation key file locally). Providers
 * cache their data keys, so sealing and opening cost no KMS call once a container is warm.
 *
 * Sealed form: `enc1.<wrapped data key>.<base64 iv|ciphertext|tag>` (a plain string, so any
 * store can hold it). A wrapped key never contains '.'.
 */
import type { DataKeyProvider } from '../../ports';
import { DecryptionError, open, seal } from './aead';

const PREFIX = 'enc1.';

/** KMS encryption context of every envelope data key (the IAM grants require it). */
export const ENVELOPE_CONTEXT_KEY = 'purpose';
export const ENVELOPE_CONTEXT_VALUE = 'webhooks-envelope';

export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

export class EnvelopeCipher {
  constructor(private readonly keys: DataKeyProvider) {}

  /** Seals `plaintext` for the place named by `aad` (e.g. `webhook:<id>`). */
  async seal(plaintext: string, aad: string): Promise<string> {
    const dataKey = await this.keys.current();
    const body = seal(dataKey.key, Buffer.from(plaintext, 'utf8'), aad);
    return `${PREFIX}${dataKey.wrapped}.${body.toString('base64')}`;
  }

  /** Throws DecryptionError when the value is malformed, tampered with or sealed elsewhere. */
  async open(sealed: string, aad: string): Promise<string> {
    if (!isSealed(sealed)) throw new DecryptionError('not a sealed value');
    const rest = sealed.slice(PREFIX.length);
    const dot = rest.lastIndexOf('.');
    if (dot <= 0) throw new DecryptionError('malformed sealed value');
    const key = await this.keys.unwrap(rest.slice(0, dot));
    return open(key, Buffer.from(rest.slice(dot + 1), 'base64'), aad).toString('utf8');
  }
}
