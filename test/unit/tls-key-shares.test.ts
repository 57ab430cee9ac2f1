import {
  CLASSICAL_SHARE_GROUPS,
  choseClassicalGroup,
  KeyShareMemory,
  keySharePredictionSupported,
} from '../../lambdas/adapters/tls-key-shares';

describe('choseClassicalGroup', () => {
  it('takes the classical curves and finite-field DH for classical', () => {
    for (const name of ['X25519', 'X448', 'prime256v1', 'secp384r1', 'secp521r1'])
      expect(choseClassicalGroup({ type: 'ECDH', name, size: 253 } as never)).toBe(true);
    expect(choseClassicalGroup({ type: 'DH', size: 2048 } as never)).toBe(true);
  });

  it('takes nothing else for classical: the unnamed hybrid group, unknown names, no key exchange', () => {
    expect(choseClassicalGroup({})).toBe(false);
    expect(choseClassicalGroup({ type: 'ECDH', name: 'X25519MLKEM768' })).toBe(false);
    expect(choseClassicalGroup({ type: 'ECDH' })).toBe(false);
    expect(choseClassicalGroup(null)).toBe(false);
    expect(choseClassicalGroup(undefined)).toBe(false);
  });
});

describe('KeyShareMemory', () => {
  it('predicts the X25519 share only for a receiver whose last handshake was classical', () => {
    const memory = new KeyShareMemory();
    expect(memory.predictsClassical('a.test:443')).toBe(false);
    memory.learn('a.test:443', true);
    expect(memory.predictsClassical('a.test:443')).toBe(true);
    expect(memory.predictsClassical('a.test:8443')).toBe(false);
    memory.learn('a.test:443', false);
    expect(memory.predictsClassical('a.test:443')).toBe(false);
    memory.learn('a.test:443', true);
    memory.forget('a.test:443');
    expect(memory.predictsClassical('a.test:443')).toBe(false);
  });

  it('keeps at most its bound, forgetting the receiver learned longest ago', () => {
    const memory = new KeyShareMemory(3);
    for (const r of ['a', 'b', 'c']) memory.learn(r, true);
    memory.learn('a', true); // learned again: now the newest
    memory.learn('d', true);
    expect(memory.size).toBe(3);
    expect(['a', 'b', 'c', 'd'].filter((r) => memory.predictsClassical(r))).toEqual([
      'a',
      'c',
      'd',
    ]);
  });
});

describe('keySharePredictionSupported', () => {
  it('holds on this Node (OpenSSL 3.5 or newer) and not for a group list OpenSSL refuses', () => {
    expect(keySharePredictionSupported()).toBe(true);
    expect(keySharePredictionSupported(CLASSICAL_SHARE_GROUPS)).toBe(true);
    expect(keySharePredictionSupported('NOT-A-GROUP:*X25519')).toBe(false);
  });
});
