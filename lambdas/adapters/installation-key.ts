/**
 * The local installation key: 32 random bytes in a file only its owner can read (mode 0600,
 * directory 0700), made on first use and kept across restarts. Local mode keeps it under
 * DATA_DIR (`<DATA_DIR>/keys/installation.key`). Every local use takes its own key derived
 * from it with HKDF-SHA256 and a purpose label, so no two uses share key material.
 *
 * On AWS there is no such file: KMS holds the root key (see key-kms.ts).
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config';

export const INSTALLATION_KEY_BYTES = 32;

/** Where local mode keeps the installation key for a DATA_DIR. */
export function installationKeyPath(dataDir: string): string {
  return path.join(dataDir, 'keys', 'installation.key');
}

const loaded = new Map<string, Buffer>();

/**
 * Reads the key file, creating it (with its directory) when missing. A file of the wrong
 * size is refused rather than replaced: replacing it would make everything sealed under the
 * old key unreadable. A file readable by others is tightened to 0600.
 */
export function loadInstallationKey(file: string): Buffer {
  const resolved = path.resolve(file);
  const cached = loaded.get(resolved);
  if (cached) return cached;
  fs.mkdirSync(path.dirname(resolved), { recursive: true, mode: 0o700 });
  let key: Buffer;
  try {
    const fresh = randomBytes(INSTALLATION_KEY_BYTES);
    fs.writeFileSync(resolved, fresh, { flag: 'wx', mode: 0o600 });
    key = fresh;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    key = fs.readFileSync(resolved);
    if (key.length !== INSTALLATION_KEY_BYTES) {
      throw new ConfigError(
        `Key file ${resolved} holds ${key.length} bytes, not ${INSTALLATION_KEY_BYTES}; restore it from a backup (replacing it makes stored secrets unreadable).`,
      );
    }
    if ((fs.statSync(resolved).mode & 0o077) !== 0) fs.chmodSync(resolved, 0o600);
  }
  loaded.set(resolved, key);
  return key;
}

/** A 32-byte key for one purpose (e.g. 'data-key-wrap', 'cursor-mac'), derived from the installation key. */
export function deriveInstallationKey(file: string, purpose: string): Buffer {
  const root = loadInstallationKey(file);
  return Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), `webhooks:${purpose}`, 32));
}
