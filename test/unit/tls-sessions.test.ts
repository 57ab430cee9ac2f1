import { postQuantumSecret, TlsSessions } from '../../lambdas/adapters/tls-sessions';

const ticket = (n: number) => Buffer.from([n]);

describe('TlsSessions', () => {
  it('keeps the latest session of each receiver, by host and port', () => {
    const sessions = new TlsSessions();
    expect(sessions.get('a.test:443')).toBeUndefined();
    sessions.set('a.test:443', { session: ticket(1), postQuantum: true });
    sessions.set('a.test:443', { session: ticket(2), postQuantum: false });
    expect(sessions.get('a.test:443')).toEqual({ session: ticket(2), postQuantum: false });
    expect(sessions.get('a.test:8443')).toBeUndefined();
    sessions.delete('a.test:443');
    expect(sessions.get('a.test:443')).toBeUndefined();
  });

  it('forgets the least recently used receiver beyond its bound', () => {
    const sessions = new TlsSessions(2);
    sessions.set('a:443', { session: ticket(1), postQuantum: true });
    sessions.set('b:443', { session: ticket(2), postQuantum: true });
    // Reading a makes it the most recent: b goes when c comes.
    sessions.get('a:443');
    sessions.set('c:443', { session: ticket(3), postQuantum: true });
    expect(sessions.size).toBe(2);
    expect(sessions.get('a:443')?.session).toEqual(ticket(1));
    expect(sessions.get('b:443')).toBeUndefined();
    expect(sessions.get('c:443')?.session).toEqual(ticket(3));
  });

  it('drops the session of a receiver that refused a classical resumption, and remembers it', () => {
    const sessions = new TlsSessions(2);
    sessions.set('a:443', { session: ticket(1), postQuantum: true });
    expect(sessions.resumesClassically('a:443')).toBe(true);
    sessions.refusedClassicalResumption('a:443');
    expect(sessions.get('a:443')).toBeUndefined();
    expect(sessions.resumesClassically('a:443')).toBe(false);
    expect(sessions.resumesClassically('b:443')).toBe(true);
    // The refusals are bounded too: the oldest is forgotten first.
    sessions.refusedClassicalResumption('b:443');
    sessions.refusedClassicalResumption('c:443');
    expect(sessions.resumesClassically('a:443')).toBe(true);
    expect(sessions.resumesClassically('b:443')).toBe(false);
    expect(sessions.resumesClassically('c:443')).toBe(false);
  });
});

describe('postQuantumSecret', () => {
  const socket = (protocol: string | null, reused: boolean, info: object | null) => ({
    getProtocol: () => protocol,
    isSessionReused: () => reused,
    getEphemeralKeyInfo: () => info as never,
  });
  const pq = { session: ticket(1), postQuantum: true };
  const classical = { session: ticket(2), postQuantum: false };

  it('takes a TLS 1.3 full handshake that chose no classical group for post-quantum', () => {
    // Node 22 names no hybrid group: {}.
    expect(postQuantumSecret(socket('TLSv1.3', false, {}), undefined)).toBe(true);
    expect(postQuantumSecret(socket('TLSv1.3', false, { type: 'ECDH', name: 'X25519' }), pq)).toBe(
      false,
    );
    expect(postQuantumSecret(socket('TLSv1.3', false, { type: 'DH', size: 2048 }), pq)).toBe(false);
    expect(postQuantumSecret(socket('TLSv1.3', false, null), pq)).toBe(false);
  });

  it('gives a resumption what the session it resumed had', () => {
    const x25519 = { type: 'ECDH', name: 'X25519', size: 253 };
    expect(postQuantumSecret(socket('TLSv1.3', true, x25519), pq)).toBe(true);
    expect(postQuantumSecret(socket('TLSv1.3', true, {}), classical)).toBe(false);
    expect(postQuantumSecret(socket('TLSv1.3', true, {}), undefined)).toBe(false);
  });

  it('takes nothing below TLS 1.3 for post-quantum', () => {
    expect(postQuantumSecret(socket('TLSv1.2', false, {}), undefined)).toBe(false);
    expect(postQuantumSecret(socket('TLSv1.2', true, {}), pq)).toBe(false);
  });
});
