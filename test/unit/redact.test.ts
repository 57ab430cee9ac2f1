import { REDACTED, redactorFor, redactSecrets, secretNeedles } from '../../lambdas/core/redact';
import { generateSigningSecret } from '../../lambdas/core/signing';

const password = 'pa$$ w/rd+"é';
const signingSecret = generateSigningSecret();
const needles = secretNeedles({
  auth: { type: 'basic', username: 'svc', password },
  signingSecret,
});
const key = Buffer.from(signingSecret.slice(6), 'base64');

describe('redacting a webhook’s secrets from what a receiver sent back', () => {
  it.each([
    ['the password', password],
    ['the password JSON-escaped', JSON.stringify(password)],
    ['the password JSON-escaped as ASCII only', '"pa$$ w/rd+\\"\\u00e9"'],
    ['the password HTML-escaped', 'pa$$ w/rd+&quot;é'],
    ['the password URL-encoded', encodeURIComponent(password)],
    ['the Basic credential', `Basic ${Buffer.from(`svc:${password}`).toString('base64')}`],
    [
      'the Basic credential upper-cased',
      Buffer.from(`svc:${password}`).toString('base64').toUpperCase(),
    ],
    [
      'the Basic credential unpadded',
      Buffer.from(`svc:${password}`).toString('base64').replace(/=+$/, ''),
    ],
    ['the signing secret', signingSecret],
    ['the signing key without its prefix', signingSecret.slice(6)],
    ['the signing key as hex', key.toString('hex')],
    ['the signing key as base64url', key.toString('base64url')],
  ])('removes %s', (_name, form) => {
    const out = redactSecrets(`{"echo": "${form}", "ok": true}`, needles);
    expect(out).toContain(REDACTED);
    expect(out.toLowerCase()).not.toContain(form.toLowerCase().replace(/^basic /, ''));
    expect(out).toContain('"ok": true');
  });

  it('removes the secrets a rotation retired, which still sign in their grace period', () => {
    const current = generateSigningSecret();
    const retired = generateSigningSecret();
    const redact = redactorFor({
      signingSecret: current,
      retiredSigningKeys: [{ expiresAt: '2999-01-01T00:00:00.000Z', secret: retired }],
    });
    for (const form of [retired, retired.slice(6)]) {
      const out = redact(`{"echo": "${form}", "ok": true}`);
      expect(out).toBe(`{"echo": "${REDACTED}", "ok": true}`);
    }
  });

  it('removes the start of a secret the excerpt was cut in', () => {
    const basic = Buffer.from(`svc:${password}`).toString('base64');
    expect(redactSecrets(`header: Basic ${basic.slice(0, 6)}`, needles)).toBe(
      `header: Basic ${REDACTED}`,
    );
  });

  it('leaves text without secrets, and any text of a webhook without secrets, unchanged', () => {
    expect(redactSecrets('{"status":"accepted","pass":"word"}', needles)).toBe(
      '{"status":"accepted","pass":"word"}',
    );
    expect(secretNeedles({})).toEqual([]);
    expect(redactSecrets(`x ${password}`, secretNeedles({}))).toBe(`x ${password}`);
  });
});

describe('redacting a password with HTML-special characters whose Basic credential has + and / in base64', () => {
  const tricky = "O'Hara & <co> ÿ~????";
  const credential = Buffer.from(`svc:${tricky}`).toString('base64');
  const trickyNeedles = secretNeedles({
    auth: { type: 'basic', username: 'svc', password: tricky },
  });

  it('arranges a credential whose base64 has +, / and padding', () => {
    expect(credential).toMatch(/\+.*\/.*=$/);
  });

  it.each([
    ['the Basic credential in clear', `svc:${tricky}`],
    ['the Basic credential unpadded', credential.replace(/=+$/, '')],
    ['the Basic credential as base64url', Buffer.from(`svc:${tricky}`).toString('base64url')],
    ['the Basic credential with JSON-escaped slashes', credential.replaceAll('/', '\\/')],
    ['the Basic credential URL-encoded', encodeURIComponent(credential)],
    ['the password HTML-escaped with &#39;', 'O&#39;Hara &amp; &lt;co&gt; ÿ~????'],
    ['the password HTML-escaped with &#x27;', 'O&#x27;Hara &amp; &lt;co&gt; ÿ~????'],
  ])('replaces %s whole', (_name, form) => {
    expect(redactSecrets(`{"echo": "${form}", "ok": true}`, trickyNeedles)).toBe(
      `{"echo": "${REDACTED}", "ok": true}`,
    );
  });
});

describe('the redactor of a definition', () => {
  it('redacts as redactSecrets does, built once per definition object', () => {
    const def = { auth: { type: 'basic' as const, username: 'u', password: 'hunter22' } };
    expect(redactorFor(def)).toBe(redactorFor(def));
    expect(redactorFor(def)('pw=hunter22; cut: hunt')).toBe(`pw=${REDACTED}; cut: ${REDACTED}`);
    expect(redactorFor({})('hunter22')).toBe('hunter22');
  });

  it('redacts an excerpt cut one character before the end of a secret', () => {
    const def = { auth: { type: 'basic' as const, username: 'u', password: 'hunter22' } };
    expect(redactorFor(def)('cut: hunter2')).toBe(`cut: ${REDACTED}`);
  });
});
