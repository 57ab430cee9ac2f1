/**
 * The sender's TLS sessions, one per receiver (host and port) and per execution environment,
 * each with what protects its secret.
 *
 * A TLS 1.3 resumption derives its keys from two secrets: the session's pre-shared key (PSK),
 * itself derived from the secrets of the handshake that made the session, and a fresh key
 * exchange. When the session was made with the hybrid post-quantum group (X25519MLKEM768), its
 * PSK is as safe against a future quantum computer as that handshake, and so is everything sent
 * on a connection that resumes it, whichever group the resumption's own key exchange uses. So
 * the `hybrid` key exchange offers the hybrid group on every new session and, when it resumes a
 * post-quantum session, offers the classical groups only: the X25519 share (32 bytes) instead of
 * the hybrid one (1,216 bytes, and 1,120 bytes in the receiver's answer). What that gives up:
 * a resumed connection's recorded traffic could be read by someone who has a quantum computer
 * AND the receiver's session-ticket key (or the session itself; the ticket is encrypted under
 * that symmetric key, which a quantum computer weakens far less); with the hybrid share on
 * every hello (`hybridEveryHandshake`) the ticket key alone would not be enough.
 *
 * A resumption the receiver refuses (its ticket key changed, another server behind the same
 * name) would otherwise end as a full handshake over classical groups only: the connector drops
 * such a connection before any request byte is sent on it and opens a full hybrid one instead
 * (http-sender.ts). That receiver is then resumed with the hybrid share, like
 * `hybridEveryHandshake`, for as long as the environment remembers it.
 */
import type { TLSSocket } from 'node:tls';
import { choseClassicalGroup, MAX_REMEMBERED, rememberRecent } from './tls-key-shares';

/** A cached session and whether its secret descends from a post-quantum key exchange. */
export interface CachedSession {
  readonly session: Buffer;
  readonly postQuantum: boolean;
}

export class TlsSessions {
  private readonly sessions = new Map<string, CachedSession>();
  private readonly refusers = new Map<string, true>();

  constructor(private readonly max = MAX_REMEMBERED) {}

  /** The session to offer `receiver` (host:port), if any. */
  get(receiver: string): CachedSession | undefined {
    const cached = this.sessions.get(receiver);
    if (cached) rememberRecent(this.sessions, receiver, cached, this.max);
    return cached;
  }

  /** Keeps the latest session `receiver` issued (a later ticket replaces an earlier one). */
  set(receiver: string, cached: CachedSession): void {
    rememberRecent(this.sessions, receiver, cached, this.max);
  }

  delete(receiver: string): void {
    this.sessions.delete(receiver);
  }

  /**
   * Whether a post-quantum session of `receiver` may be resumed with the classical groups only:
   * not after it refused such a resumption, or failed its handshake.
   */
  resumesClassically(receiver: string): boolean {
    return !this.refusers.has(receiver);
  }

  /** `receiver` refused a classical resumption: its sessions go, and it gets the hybrid share. */
  refusedClassicalResumption(receiver: string): void {
    this.sessions.delete(receiver);
    rememberRecent(this.refusers, receiver, true, this.max);
  }

  get size(): number {
    return this.sessions.size;
  }
}

/**
 * Whether the sessions a connection is issued descend from a post-quantum key exchange: TLS
 * 1.3, and either a full handshake that chose no classical group (Node 22 names no hybrid group:
 * `{}`) or the resumption of a session that did.
 */
export function postQuantumSecret(
  socket: Pick<TLSSocket, 'getProtocol' | 'isSessionReused' | 'getEphemeralKeyInfo'>,
  offered: CachedSession | undefined,
): boolean {
  if (socket.getProtocol() !== 'TLSv1.3') return false;
  if (socket.isSessionReused()) return offered?.postQuantum === true;
  const info = socket.getEphemeralKeyInfo();
  return info != null && !choseClassicalGroup(info);
}
