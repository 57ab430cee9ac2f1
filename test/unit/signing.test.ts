import { Webhook } from 'standardwebhooks';
import {
  basicAuthorization,
  generateSigningSecret,
  isValidSigningSecret,
  sendTimeHeaders,
  signPayload,
} from '../../lambdas/core/signing';

describe('Standard Webhooks signing', () => {
  const body = '{"loan":"L-1","note":"Zoë said \\"hi\\" <&> 🎉"}';

  it('produces signatures the standardwebhooks library verifies', () => {
    const secret = generateSigningSecret();
    const headers = sendTimeHeaders({ signingSecret: secret }, 'ntf_ABC', new Date(), body);

    const verified = new Webhook(secret).verify(body, headers);

    expect(verified).toEqual(JSON.parse(body));
  });

  it('fails verification when the body is tampered with', () => {
    const secret = generateSigningSecret();
    const headers = sendTimeHeaders({ signingSecret: secret }, 'ntf_ABC', new Date(), body);

    expect(() => new Webhook(secret).verify(body.replace('L-1', 'L-2'), headers)).toThrow();
  });

  it('fails verification with another secret or another message id', () => {
    const secret = generateSigningSecret();
    const headers = sendTimeHeaders({ signingSecret: secret }, 'ntf_ABC', new Date(), body);

    expect(() => new Webhook(generateSigningSecret()).verify(body, headers)).toThrow();
    expect(() =>
      new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'ntf_OTHER' }),
    ).toThrow();
  });

  it('matches the library signature for a fixed id, time and body', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const at = new Date('2026-11-28T10:00:00Z');

    const ours = signPayload(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', at.getTime() / 1000, body);

    expect(ours).toBe(new Webhook(secret).sign('msg_p5jXN8AQM9LWM0D4loKWxJek', at, body));
    expect(ours).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it('sends webhook-id and a timestamp in seconds, without signature when there is no secret', () => {
    const headers = sendTimeHeaders({}, 'ntf_X', new Date('2026-11-28T10:00:00.999Z'), body);

    expect(headers).toEqual({ 'webhook-id': 'ntf_X', 'webhook-timestamp': '1795860000' });
  });

  it('adds Basic Auth in UTF-8 when configured', () => {
    const headers = sendTimeHeaders(
      { auth: { type: 'basic', username: 'svc', password: 'pä:ss' } },
      'ntf_X',
      new Date(),
      body,
    );

    expect(headers.authorization).toBe(basicAuthorization('svc', 'pä:ss'));
    const decoded = Buffer.from(headers.authorization!.slice('Basic '.length), 'base64').toString(
      'utf8',
    );
    expect(decoded).toBe('svc:pä:ss');
  });

  it('generates distinct valid secrets of 32 bytes', () => {
    const a = generateSigningSecret();
    const b = generateSigningSecret();

    expect(a).not.toBe(b);
    expect(isValidSigningSecret(a)).toBe(true);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
  });

  it.each([
    ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', true], // 24 bytes, as Svix issues
    [`whsec_${Buffer.alloc(64, 7).toString('base64')}`, true],
    [`whsec_${Buffer.alloc(23, 7).toString('base64')}`, false],
    [`whsec_${Buffer.alloc(65, 7).toString('base64')}`, false],
    ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', false],
    ['whsec_', false],
    ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS', false],
    ['whsec_MfKQ9r8GKYqrTwjU-D8ILPZIo2LaLaSw', false],
  ])('isValidSigningSecret(%s) is %s', (secret, valid) => {
    expect(isValidSigningSecret(secret)).toBe(valid);
  });
});
