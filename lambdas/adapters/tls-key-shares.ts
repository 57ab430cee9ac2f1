/**
 * Key-share prediction for the hybrid key exchange.
 *
 * A TLS 1.3 hello lists the groups the client accepts (supported_groups) and carries key shares
 * for some of them; the server picks a group, and asks for another share (HelloRetryRequest,
 * one round trip more) only when it wants a group the client listed without a share. Node's
 * default hello carries two shares: the hybrid post-quantum X25519MLKEM768 (1,216 bytes) and
 * X25519 (32). A receiver without the hybrid group throws the large one away on every new
 * connection.
 *
 * So the sender remembers, per receiver (host and port) and per execution environment, a
 * receiver that chose a classical group although the hybrid share was offered, and from then
 * on sends it the X25519 share only, with the very same list of groups, hybrid first. Nothing
 * is weakened: the hybrid share is left out only for a receiver that declined it when offered;
 * a receiver that has gained the hybrid group since asks for its share, which the sender sends
 * (once: the receiver is then remembered as hybrid again). A new environment starts from the
 * full hello.
 */
import { createSecureContext } from 'node:tls';

/**
 * Node's default groups (OpenSSL 3.5's DEFAULT_GROUPS, in its tuple syntax: `/` separates
 * preference tuples, `*` marks the groups sent a key share, `?` ignores a group this OpenSSL
 * lacks) with the X25519 share only. The integration test compares the hello this makes with
 * Node's own, group by group.
 */
export const CLASSICAL_SHARE_GROUPS =
  '?X25519MLKEM768 / ?*X25519:?secp256r1 / ?X448:?secp384r1:?secp521r1 / ?ffdhe2048:?ffdhe3072';

/** Names getEphemeralKeyInfo() gives the classical groups (OpenSSL's short names). */
const CLASSICAL_GROUP_NAMES = new Set([
  'X25519',
  'X448',
  'prime256v1',
  'secp384r1',
  'secp521r1',
  'ffdhe2048',
  'ffdhe3072',
  'ffdhe4096',
  'ffdhe6144',
  'ffdhe8192',
]);

/** Receivers remembered at most, per memory of them; the least recently used go first. */
export const MAX_REMEMBERED = 1000;

/** Sets `key` in `map` as its most recent entry, forgetting the oldest beyond `max` entries. */
export function rememberRecent<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}

let supported: boolean | undefined;

/**
 * Whether this Node's OpenSSL knows the hybrid group and reads the tuple syntax (3.5 or newer);
 * without them Node's default hello carries no hybrid share and there is nothing to predict.
 */
export function keySharePredictionSupported(groups = CLASSICAL_SHARE_GROUPS): boolean {
  if (groups !== CLASSICAL_SHARE_GROUPS) return probe(groups);
  supported ??= probe(groups);
  return supported;
}

function probe(groups: string): boolean {
  try {
    createSecureContext({ ecdhCurve: 'X25519MLKEM768' });
    createSecureContext({ ecdhCurve: groups });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a finished handshake used a classical group, from the client's getEphemeralKeyInfo():
 * a known classical name, or finite-field DH. Anything else (Node 22 names no hybrid group and
 * answers `{}`; RSA key transport has no ephemeral key) is not taken for classical.
 */
export function choseClassicalGroup(
  info: { readonly type?: string; readonly name?: string } | null | undefined,
): boolean {
  if (!info) return false;
  if (info.type === 'DH') return true;
  return info.type === 'ECDH' && info.name !== undefined && CLASSICAL_GROUP_NAMES.has(info.name);
}

/** The receivers, in one execution environment, that chose a classical group when offered both. */
export class KeyShareMemory {
  private readonly classical = new Map<string, true>();

  constructor(private readonly max = MAX_REMEMBERED) {}

  /** Whether `receiver` (host:port) gets the X25519 share only. */
  predictsClassical(receiver: string): boolean {
    return this.classical.has(receiver);
  }

  /** What a handshake with `receiver` chose. */
  learn(receiver: string, classical: boolean): void {
    if (classical) rememberRecent(this.classical, receiver, true, this.max);
    else this.classical.delete(receiver);
  }

  /** Back to the full hello for `receiver` (its handshake failed with the X25519 share only). */
  forget(receiver: string): void {
    this.classical.delete(receiver);
  }

  get size(): number {
    return this.classical.size;
  }
}
