/**
 * Where the cursor key (ports.ts CursorKeySource) comes from. On AWS it is derived from a KMS
 * HMAC key that never leaves KMS: GenerateMac over a fixed label is deterministic, so every
 * Lambda derives the same bytes with one KMS call per cold start, and only when it first pages.
 * Locally it is a random key in a file (mode 0600) under DATA_DIR, made on first use.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GenerateMacCommand, type KMSClient } from '@aws-sdk/client-kms';
import { ConfigError, ENV, envReader } from '../config';
import type { CursorKeySource } from '../ports';

const KEY_BYTES = 32;
/** The message whose MAC is the cursor key; a new label would invalidate every cursor. */
const DERIVATION_LABEL = 'webhooks pagination cursor key v1';

/** Resolves once and keeps the result; a failed load is retried on the next call. */
function once(load: () => Promise<Uint8Array>): CursorKeySource {
  let pending: Promise<Uint8Array> | undefined;
  return {
    key() {
      pending ??= load().catch((err: unknown) => {
        pending = undefined;
        throw err;
      });
      return pending;
    },
  };
}

/** A key held in memory (tests, benchmarks, one-process tools). */
export function fixedCursorKey(bytes: Uint8Array = randomBytes(KEY_BYTES)): CursorKeySource {
  if (bytes.length < 16) throw new ConfigError('a cursor key needs at least 16 bytes');
  const key = Uint8Array.from(bytes);
  return { key: async () => key };
}

/** The key derived by KMS GenerateMac (HMAC_SHA_256) with the HMAC key `keyId`. */
export function kmsCursorKey(kms: Pick<KMSClient, 'send'>, keyId: string): CursorKeySource {
  return once(async () => {
    const out = await kms.send(
      new GenerateMacCommand({
        KeyId: keyId,
        MacAlgorithm: 'HMAC_SHA_256',
        Message: new TextEncoder().encode(DERIVATION_LABEL),
      }),
    );
    if (!out.Mac || out.Mac.length < 16) throw new Error('KMS GenerateMac returned no MAC');
    return out.Mac;
  });
}

/**
 * The key in `file`, made (32 random bytes, base64url, mode 0600) when absent. The file is
 * written beside and linked into place, so a concurrent reader never sees half a key. A file
 * that others than its owner may read is refused.
 */
export function fileCursorKey(file: string): CursorKeySource {
  return once(async () => {
    try {
      return readKeyFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
    fs.writeFileSync(temp, randomBytes(KEY_BYTES).toString('base64url'), {
      mode: 0o600,
      flag: 'wx',
    });
    try {
      fs.linkSync(temp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(temp, { force: true });
    }
    return readKeyFile(file);
  });
}

function readKeyFile(file: string): Uint8Array {
  const fd = fs.openSync(file, 'r');
  try {
    if ((fs.fstatSync(fd).mode & 0o077) !== 0) {
      throw new ConfigError(`cursor key file ${file} is readable by others: chmod 600 it`);
    }
    const key = Buffer.from(fs.readFileSync(fd, 'utf8').trim(), 'base64url');
    if (key.length < 16) throw new ConfigError(`cursor key file ${file} holds no key`);
    return key;
  } finally {
    fs.closeSync(fd);
  }
}

/** CURSOR_KEY_FILE (local mode) or CURSOR_KMS_KEY_ID (AWS); one of them is required. */
export function cursorKeyFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  kms: Pick<KMSClient, 'send'>,
): CursorKeySource {
  const read = envReader(env);
  const file = read.optional(ENV.CURSOR_KEY_FILE, '');
  if (file !== '') return fileCursorKey(file);
  return kmsCursorKey(kms, read.required(ENV.CURSOR_KMS_KEY_ID));
}
