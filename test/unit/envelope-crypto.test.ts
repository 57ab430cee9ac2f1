import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DecryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import {
  deriveInstallationKey,
  installationKeyPath,
  loadInstallationKey,
} from '../../lambdas/adapters/installation-key';
import { KmsDataKeyProvider } from '../../lambdas/adapters/key-kms';
import { LocalDataKeyProvider } from '../../lambdas/adapters/key-local';
import { openDefinition, sealDefinition } from '../../lambdas/adapters/webhook-secrets';
import { DecryptionError, open, seal } from '../../lambdas/core/crypto/aead';
import { EnvelopeCipher, isSealed } from '../../lambdas/core/crypto/envelope';
import type { WebhookDefinition } from '../../lambdas/core/model';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envelope-test-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('AES-256-GCM sealing', () => {
  const key = Buffer.alloc(32, 7);

  it('opens what it sealed, with the same associated data only', () => {
    const sealed = seal(key, Buffer.from('s3cret'), 'webhook:wh_1');
    expect(open(key, sealed, 'webhook:wh_1').toString()).toBe('s3cret');
    expect(() => open(key, sealed, 'webhook:wh_2')).toThrow(DecryptionError);
  });

  it('refuses a tampered ciphertext or another key', () => {
    const sealed = seal(key, Buffer.from('s3cret'), 'a');
    const flipped = Buffer.from(sealed);
    flipped[14] = (flipped[14] ?? 0) ^ 1;
    expect(() => open(key, flipped, 'a')).toThrow(DecryptionError);
    expect(() => open(Buffer.alloc(32, 8), sealed, 'a')).toThrow(DecryptionError);
  });
});

describe('AES-256-GCM lengths', () => {
  const key = Buffer.alloc(32, 7);

  it('seals an empty value into iv and tag alone, and opens it; anything shorter is refused', () => {
    const sealed = seal(key, Buffer.alloc(0), 'a');
    expect(sealed).toHaveLength(12 + 16);
    expect(open(key, sealed, 'a')).toHaveLength(0);
    expect(() => open(key, sealed.subarray(1), 'a')).toThrow('ciphertext too short');
  });
});

describe('envelope values', () => {
  it('are recognised by their prefix only at the start', () => {
    expect(isSealed('enc1.k.c')).toBe(true);
    expect(isSealed('my-enc1.password')).toBe(false);
    expect(isSealed(undefined)).toBe(false);
  });

  it('refuse a value that is not sealed or has no wrapped key, with DecryptionError', async () => {
    const cipher = new EnvelopeCipher(new LocalDataKeyProvider(installationKeyPath(dir)));
    const sealed = await cipher.seal('pw', 'x');
    const body = sealed.slice(sealed.lastIndexOf('.') + 1);
    for (const value of [
      'plain.password',
      `xenc1.${sealed.slice(5)}`,
      `enc1.${body}`,
      `enc1..${body}`,
    ])
      await expect(cipher.open(value, 'x')).rejects.toThrow(DecryptionError);
  });
});

describe('the installation key file', () => {
  it('is made once with mode 0600 and read back unchanged', () => {
    const file = installationKeyPath(dir);
    const key = loadInstallationKey(file);
    expect(key).toHaveLength(32);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file).equals(key)).toBe(true);
  });

  it('derives different keys per purpose', () => {
    const file = installationKeyPath(dir);
    const a = deriveInstallationKey(file, 'data-key-wrap');
    const b = deriveInstallationKey(file, 'cursor-mac');
    expect(a.equals(b)).toBe(false);
    expect(deriveInstallationKey(file, 'cursor-mac').equals(b)).toBe(true);
  });

  it('refuses a file of the wrong size instead of replacing it', () => {
    const file = path.join(dir, 'short.key');
    fs.writeFileSync(file, 'short', { mode: 0o600 });
    expect(() => loadInstallationKey(file)).toThrow(/holds 5 bytes/);
    expect(fs.readFileSync(file, 'utf8')).toBe('short');
  });
});

describe('local data keys', () => {
  it('open values sealed by another process with the same key file, not with another file', async () => {
    const file = installationKeyPath(dir);
    const sealed = await new EnvelopeCipher(new LocalDataKeyProvider(file)).seal('pw', 'x');
    expect(await new EnvelopeCipher(new LocalDataKeyProvider(file)).open(sealed, 'x')).toBe('pw');
    const other = new EnvelopeCipher(new LocalDataKeyProvider(path.join(dir, 'other.key')));
    await expect(other.open(sealed, 'x')).rejects.toThrow(/another installation key/);
  });
});

describe('KMS data keys', () => {
  function fakeKms() {
    const calls: string[] = [];
    const plaintext = Buffer.alloc(32, 3);
    const send = jest.fn(async (command: unknown) => {
      if (command instanceof GenerateDataKeyCommand) {
        calls.push(`generate:${JSON.stringify(command.input.EncryptionContext)}`);
        return { Plaintext: new Uint8Array(plaintext), CiphertextBlob: new Uint8Array([1, 2, 3]) };
      }
      if (command instanceof DecryptCommand) {
        calls.push(`decrypt:${JSON.stringify(command.input.EncryptionContext)}`);
        return { Plaintext: new Uint8Array(plaintext) };
      }
      throw new Error('unexpected command');
    });
    return { client: { send } as never, calls };
  }

  it('asks KMS for one data key per container, not per value', async () => {
    const kms = fakeKms();
    const cipher = new EnvelopeCipher(new KmsDataKeyProvider(kms.client, 'key-arn'));
    const sealed = await Promise.all(
      Array.from({ length: 50 }, (_, i) => cipher.seal(`secret-${i}`, `webhook:${i}`)),
    );
    expect(await cipher.open(sealed[7]!, 'webhook:7')).toBe('secret-7');
    expect(kms.calls).toEqual(['generate:{"purpose":"webhooks-envelope"}']);
  });

  it('decrypts a wrapped key once per container and caches it', async () => {
    const writer = fakeKms();
    const sealed = await new EnvelopeCipher(new KmsDataKeyProvider(writer.client, 'k')).seal(
      'pw',
      'a',
    );
    const reader = fakeKms();
    const cipher = new EnvelopeCipher(new KmsDataKeyProvider(reader.client, 'k'));
    for (let i = 0; i < 5; i++) expect(await cipher.open(sealed, 'a')).toBe('pw');
    expect(reader.calls).toEqual(['decrypt:{"purpose":"webhooks-envelope"}']);
  });

  it('makes a new data key once the old one is older than its maximum age', async () => {
    const kms = fakeKms();
    let now = 0;
    const provider = new KmsDataKeyProvider(kms.client, 'k', { maxAgeMs: 1000, now: () => now });
    await provider.current();
    now = 999;
    await provider.current();
    now = 1000;
    await provider.current();
    expect(kms.calls.filter((c) => c.startsWith('generate'))).toHaveLength(2);
  });
});

describe('secrets in a stored definition', () => {
  const def: WebhookDefinition = {
    id: 'wh_1',
    name: 'n',
    events: ['*'],
    enabled: true,
    method: 'POST',
    url: 'https://x.example/',
    contentType: 'application/json',
    headers: {},
    body: '{}',
    auth: { type: 'basic', username: 'svc', password: 'pa55-word' },
    signingSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };

  it('leave the item only sealed, and come back whole', async () => {
    const cipher = new EnvelopeCipher(new LocalDataKeyProvider(installationKeyPath(dir)));
    const item = await sealDefinition(def, cipher);
    const text = JSON.stringify(item);
    expect(text).not.toContain('pa55-word');
    expect(text).not.toContain('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(item.auth).toEqual({ type: 'basic', username: 'svc' });
    expect(await openDefinition(item, cipher)).toEqual(def);
  });

  it('do not open when moved to another webhook', async () => {
    const cipher = new EnvelopeCipher(new LocalDataKeyProvider(installationKeyPath(dir)));
    const item = await sealDefinition(def, cipher);
    await expect(openDefinition({ ...item, id: 'wh_2' }, cipher)).rejects.toThrow(DecryptionError);
  });

  it('read as they are from items written before sealing', async () => {
    const cipher = new EnvelopeCipher(new LocalDataKeyProvider(installationKeyPath(dir)));
    expect(await openDefinition({ ...def }, cipher)).toEqual(def);
  });
});
