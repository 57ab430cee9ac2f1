/**
 * Signing keys through the api handler and the delivery engine against DynamoDB Local:
 * rotation of a `whsec_` secret (both signatures during the grace period, verified by the
 * standardwebhooks library; only the new one after), ed25519 webhooks (verified with
 * node:crypto from the public key alone) and their rotation, and the private key at rest.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { apiHandlerFor } from '../support/api-harness';
import { client } from '../support/apigw';
import { deliverJob, event, useDeliveryHarness } from '../support/delivery-harness';
import { ok, type ReceivedRequest } from '../support/receivers';
import { ed25519Accepts, libraryAccepts } from '../support/signatures';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();
const HOUR = 3_600_000;

describe('signing keys', () => {
  const { harness, receiver } = useDeliveryHarness(standIns);
  beforeEach(() => {
    receiver.requests.length = 0;
  });

  /** The api at a chosen time (rotations start their grace period then); delivery runs now. */
  function apiAt(ms: number) {
    const h = apiHandlerFor(standIns());
    h.clock.advance(ms - h.clock.now().getTime());
    return client(h.handler);
  }

  async function deliver(webhookId: string): Promise<ReceivedRequest> {
    const def = (await harness.webhooks.get(webhookId))!;
    receiver.requests.length = 0;
    await harness.service.handleJob(deliverJob(def, event({ loanId: 'L-1' })));
    expect(receiver.requests).toHaveLength(1);
    return receiver.requests[0]!;
  }

  it('during a rotation sign with old and new secret, each accepted by the standardwebhooks library', async () => {
    const api = apiAt(Date.now());
    const created = await api.post('/webhooks', {
      name: 'rotating',
      events: ['LOAN_DISBURSEMENT'],
      url: `${receiver.url}/rotating`,
      signingSecret: 'generate',
    });
    const oldSecret = created.body.signingSecret as string;

    const rotated = await api.post(`/webhooks/${created.body.id}/signing-secrets/rotate`, {
      graceHours: 24,
    });
    expect(rotated.status).toBe(200);
    expect(Object.keys(rotated.body)).toEqual(['secret']);
    const newSecret = rotated.body.secret as string;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);

    const req = await deliver(created.body.id);
    expect(req.headers['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/);
    expect(libraryAccepts(oldSecret, req)).toBe(true);
    expect(libraryAccepts(newSecret, req)).toBe(true);

    const got = await api.get(`/webhooks/${created.body.id}`);
    expect(got.body).toMatchObject({ signingSecret: 'whsec_***', version: 2 });
    expect(Date.parse(got.body.signingGraceUntil)).toBeGreaterThan(Date.now());
    expect(JSON.stringify(got.body)).not.toContain(newSecret.slice(6));
  });

  it('a receiver echoing the secret still in its grace period does not get it into the history', async () => {
    const api = apiAt(Date.now());
    const created = await api.post('/webhooks', {
      name: 'echoing',
      events: ['LOAN_DISBURSEMENT'],
      url: `${receiver.url}/echoing`,
      signingSecret: 'generate',
    });
    const oldSecret = created.body.signingSecret as string;
    const rotated = await api.post(`/webhooks/${created.body.id}/signing-secrets/rotate`, {
      graceHours: 24,
    });
    const key = Buffer.from(oldSecret.slice('whsec_'.length), 'base64');
    const forms = [oldSecret, oldSecret.slice('whsec_'.length), key.toString('hex')];
    receiver.setBehaviour(() => ({
      status: 200,
      body: `checked with ${forms.join(' and ')}; new one ${rotated.body.secret}`,
    }));
    try {
      const req = await deliver(created.body.id);
      // Arrange check: the old secret still signs, so the receiver may well hold it.
      expect(libraryAccepts(oldSecret, req)).toBe(true);
      const notification = await harness.notifications.get(String(req.headers['webhook-id']));
      const excerpt = notification!.attempts[0]!.responseBody!;
      expect(excerpt).toContain('checked with [REDACTED]');
      for (const form of [...forms, rotated.body.secret as string]) {
        expect(excerpt).not.toContain(form);
      }
    } finally {
      receiver.setBehaviour(ok());
    }
  });

  it('after the grace period sign with the new secret only', async () => {
    // Rotated 25 hours ago with a 24-hour grace period: it has ended by now.
    const api = apiAt(Date.now() - 25 * HOUR);
    const created = await api.post('/webhooks', {
      name: 'rotated',
      events: ['LOAN_DISBURSEMENT'],
      url: `${receiver.url}/rotated`,
      signingSecret: 'generate',
    });
    const rotated = await api.post(`/webhooks/${created.body.id}/signing-secrets/rotate`, {});

    const req = await deliver(created.body.id);
    expect(req.headers['webhook-signature']).toMatch(/^v1,\S+$/);
    expect(libraryAccepts(rotated.body.secret, req)).toBe(true);
    expect(libraryAccepts(created.body.signingSecret, req)).toBe(false);
    expect(
      (await apiAt(Date.now()).get(`/webhooks/${created.body.id}`)).body.signingGraceUntil,
    ).toBeNull();
  });

  it('a replace after the grace period stores no key whose grace period has ended', async () => {
    const api = apiAt(Date.now() - 25 * HOUR);
    const created = await api.post('/webhooks', {
      name: 'rotated-then-saved',
      events: ['LOAN_DISBURSEMENT'],
      url: `${receiver.url}/rotated-then-saved`,
      signingSecret: 'generate',
    });
    await api.post(`/webhooks/${created.body.id}/signing-secrets/rotate`, { graceHours: 24 });
    expect((await harness.webhooks.get(created.body.id))?.retiredSigningKeys).toHaveLength(1);

    // Now, 25 hours later: a GET, edit, PUT keeps the current secret only.
    const now = apiAt(Date.now());
    const got = await now.get(`/webhooks/${created.body.id}`);
    const saved = await now.put(`/webhooks/${created.body.id}`, { ...got.body, name: 'renamed' });
    expect(saved.status).toBe(200);
    const stored = await harness.webhooks.get(created.body.id);
    expect(stored?.signingSecret).toMatch(/^whsec_/);
    expect(stored?.retiredSigningKeys).toBeUndefined();
  });

  it('ed25519: the definition shows the public key, the item holds no private key, receivers verify with node:crypto', async () => {
    const api = apiAt(Date.now());
    const created = await api.post('/webhooks', {
      name: 'asymmetric',
      events: ['LOAN_DISBURSEMENT'],
      url: `${receiver.url}/ed25519`,
      signing: { scheme: 'ed25519' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ signing: { scheme: 'ed25519' }, signingSecret: null });
    const publicKey = created.body.publicKey as string;
    expect(publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);

    const def = (await harness.webhooks.get(created.body.id))!;
    const s = standIns();
    const raw = await s.clients.dynamo.send(
      new GetItemCommand({ TableName: s.tables.webhooks, Key: { id: { S: created.body.id } } }),
    );
    const rawText = JSON.stringify(raw.Item);
    expect(rawText).not.toContain(def.signingKey!.privateKey.slice('whsk_'.length));
    expect(rawText).toContain(publicKey);

    const req = await deliver(created.body.id);
    expect(req.headers['webhook-signature']).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(ed25519Accepts(publicKey, req)).toBe(true);
    expect(ed25519Accepts(publicKey, req, req.body.replace('L-1', 'L-9'))).toBe(false);

    // A PUT of what GET showed keeps the key pair.
    const got = await api.get(`/webhooks/${created.body.id}`);
    const saved = await api.put(`/webhooks/${created.body.id}`, got.body);
    expect(saved.status).toBe(200);
    expect(saved.body.publicKey).toBe(publicKey);
  });

  it('ed25519 rotation: both public keys verify during the grace period', async () => {
    const api = apiAt(Date.now());
    const created = await api.post('/webhooks', {
      name: 'asymmetric-rotating',
      events: ['LOAN_DISBURSEMENT'],
      url: `${receiver.url}/ed25519-rotating`,
      signing: { scheme: 'ed25519' },
    });
    const rotated = await api.post(`/webhooks/${created.body.id}/signing-secrets/rotate`, {
      graceHours: 2,
    });
    expect(rotated.status).toBe(200);
    expect(Object.keys(rotated.body)).toEqual(['publicKey']);
    expect(rotated.body.publicKey).not.toBe(created.body.publicKey);
    expect((await api.get(`/webhooks/${created.body.id}`)).body.publicKey).toBe(
      rotated.body.publicKey,
    );

    const req = await deliver(created.body.id);
    expect(String(req.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(ed25519Accepts(created.body.publicKey, req)).toBe(true);
    expect(ed25519Accepts(rotated.body.publicKey, req)).toBe(true);
  });

  it('takes a grace period of 0 to 168 hours, 24 by default: 168 keeps the old key signing exactly that long; a negative or longer one is a 400 that rotates nothing', async () => {
    const at = Date.now();
    const api = apiAt(at);
    const signed = await api.post('/webhooks', {
      name: 'grace-bounds',
      events: ['*'],
      url: `${receiver.url}/grace-bounds`,
      signingSecret: 'generate',
    });
    for (const graceHours of [-0.5, -1, 168.5, '24']) {
      const res = await api.post(`/webhooks/${signed.body.id}/signing-secrets/rotate`, {
        graceHours,
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['graceHours']);
    }
    expect((await api.get(`/webhooks/${signed.body.id}`)).body.version).toBe(1);

    // No graceHours: the default of 24 hours.
    const byDefault = await api.post(`/webhooks/${signed.body.id}/signing-secrets/rotate`, {});
    expect(byDefault.status).toBe(200);
    expect((await api.get(`/webhooks/${signed.body.id}`)).body.signingGraceUntil).toBe(
      new Date(at + 24 * HOUR).toISOString(),
    );
    const week = await api.post(`/webhooks/${signed.body.id}/signing-secrets/rotate`, {
      graceHours: 168,
    });
    expect(week.status).toBe(200);
    const after = await api.get(`/webhooks/${signed.body.id}`);
    expect(after.body.version).toBe(3);
    expect(after.body.signingGraceUntil).toBe(new Date(at + 168 * HOUR).toISOString());
  });

  it('rotates with the default 24-hour grace period when the request has no body, and at once with graceHours 0', async () => {
    const at = Date.now();
    const api = apiAt(at);
    const created = await api.post('/webhooks', {
      name: 'grace-default',
      events: ['*'],
      url: `${receiver.url}/grace-default`,
      signingSecret: 'generate',
    });
    const path = `/webhooks/${created.body.id}/signing-secrets/rotate`;
    const noBody = await api.post(path);
    expect(noBody.status).toBe(200);
    expect((await api.get(`/webhooks/${created.body.id}`)).body.signingGraceUntil).toBe(
      new Date(at + 24 * HOUR).toISOString(),
    );

    const immediate = await api.post(path, { graceHours: 0 });
    expect(immediate.status).toBe(200);
    const req = await deliver(created.body.id);
    expect(libraryAccepts(immediate.body.secret, req)).toBe(true);
    expect(libraryAccepts(noBody.body.secret, req)).toBe(false);
    // The first secret's grace period from the earlier rotation goes on.
    expect(libraryAccepts(created.body.signingSecret, req)).toBe(true);
  });

  it('a replace with signing null stops signing', async () => {
    const api = apiAt(Date.now());
    const target = { name: 'unsigning', events: ['*'], url: `${receiver.url}/unsigning` };
    const created = await api.post('/webhooks', { ...target, signing: { scheme: 'ed25519' } });
    expect(created.body.publicKey).toMatch(/^whpk_/);

    const saved = await api.put(`/webhooks/${created.body.id}`, { ...target, signing: null });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({ signing: null, publicKey: null, signingSecret: null });
    expect((await harness.webhooks.get(created.body.id))?.signingKey).toBeUndefined();
    const req = await deliver(created.body.id);
    expect(req.headers['webhook-signature']).toBeUndefined();
  });

  it('a replace with signingSecret "generate" turns an ed25519 webhook into an HMAC one', async () => {
    const api = apiAt(Date.now());
    const target = { name: 'to-hmac', events: ['*'], url: `${receiver.url}/to-hmac` };
    const created = await api.post('/webhooks', { ...target, signing: { scheme: 'ed25519' } });

    const saved = await api.put(`/webhooks/${created.body.id}`, {
      ...target,
      signingSecret: 'generate',
    });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({ signing: null, publicKey: null });
    const secret = saved.body.signingSecret as string;
    expect(secret).toMatch(/^whsec_/);
    const req = await deliver(created.body.id);
    expect(req.headers['webhook-signature']).toMatch(/^v1,\S+$/);
    expect(libraryAccepts(secret, req)).toBe(true);
  });

  it('switching an HMAC webhook in a grace period to ed25519 by editing what GET showed ends the secrets at once', async () => {
    const api = apiAt(Date.now());
    const created = await api.post('/webhooks', {
      name: 'to-ed25519',
      events: ['*'],
      url: `${receiver.url}/to-ed25519`,
      signingSecret: 'generate',
    });
    const rotated = await api.post(`/webhooks/${created.body.id}/signing-secrets/rotate`, {
      graceHours: 24,
    });
    const got = await api.get(`/webhooks/${created.body.id}`);
    expect(got.body.signingSecret).toBe('whsec_***');

    const saved = await api.put(`/webhooks/${created.body.id}`, {
      ...got.body,
      signing: { scheme: 'ed25519' },
    });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({
      signing: { scheme: 'ed25519' },
      signingSecret: null,
      signingGraceUntil: null,
    });
    const stored = await harness.webhooks.get(created.body.id);
    expect(stored?.signingSecret).toBeUndefined();
    expect(stored?.retiredSigningKeys).toBeUndefined();
    const req = await deliver(created.body.id);
    expect(req.headers['webhook-signature']).toMatch(/^v1a,\S+$/);
    expect(ed25519Accepts(saved.body.publicKey, req)).toBe(true);
    expect(libraryAccepts(created.body.signingSecret, req)).toBe(false);
    expect(libraryAccepts(rotated.body.secret, req)).toBe(false);
  });

  it('refuses a rotation without a key (409), a grace period over a week and both ways of signing (400)', async () => {
    const api = apiAt(Date.now());
    const plain = await api.post('/webhooks', {
      name: 'unsigned',
      events: ['*'],
      url: `${receiver.url}/plain`,
    });
    const refused = await api.post(`/webhooks/${plain.body.id}/signing-secrets/rotate`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('CONFLICT');

    const signed = await api.post('/webhooks', {
      name: 'signed',
      events: ['*'],
      url: `${receiver.url}/signed`,
      signingSecret: 'generate',
    });
    const tooLong = await api.post(`/webhooks/${signed.body.id}/signing-secrets/rotate`, {
      graceHours: 169,
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.details[0].path).toBe('graceHours');
    expect((await api.get(`/webhooks/${signed.body.id}`)).body.version).toBe(1);

    const both = await api.post('/webhooks', {
      name: 'both',
      events: ['*'],
      url: `${receiver.url}/both`,
      signingSecret: 'generate',
      signing: { scheme: 'ed25519' },
    });
    expect(both.status).toBe(400);
    expect(both.body.error.details.map((d: { path: string }) => d.path)).toContain('signing');
    const unknown = await api.post(`/webhooks/wh_none/signing-secrets/rotate`, {});
    expect(unknown.status).toBe(404);
  });
});
