/**
 * The first attempt as receivers see it: rendered bodies with hostile data, methods, templated
 * URL and headers, Basic Auth, Standard Webhooks signatures, and the write-once history.
 */
import { Webhook } from 'standardwebhooks';
import { generateSigningSecret } from '../../lambdas/core/signing';
import { apiHandlerFor } from '../support/api-harness';
import { client } from '../support/apigw';
import { definition, deliverJob, event, useDeliveryHarness } from '../support/delivery-harness';
import { ok } from '../support/receivers';
import { useStandIns } from '../support/standins';

const HOSTILE = 'O\'Brien "the <b>boss</b>" & co\nline two\ttab \\ back ünïcødé 🎉 ]]> </name>';

describe('delivery of the first attempt', () => {
  const standIns = useStandIns();
  const { harness, receiver } = useDeliveryHarness(standIns);
  beforeEach(() => {
    receiver.requests.length = 0;
    receiver.setBehaviour(ok());
  });

  it('sends a JSON body whose hostile strings survive the json filter and records SENT with one attempt', async () => {
    const def = definition({
      url: `${receiver.url}/loans`,
      body: '{"name": {{ data.name | json }}, "amount": {{ data.amount | json }}, "tags": {{ data.tags | json }}}',
    });
    await harness.webhooks.put(def);
    const evt = event({ name: HOSTILE, amount: 1250.5, tags: ['a', '<b>'] });
    const job = deliverJob(def, evt);

    await harness.service.handleJob(job);

    expect(receiver.requests).toHaveLength(1);
    const received = receiver.requests[0]!;
    expect(JSON.parse(received.body)).toEqual({
      name: HOSTILE,
      amount: 1250.5,
      tags: ['a', '<b>'],
    });
    expect(received.headers['content-type']).toMatch(/^application\/json/);
    const notification = await harness.notifications.get(job.notificationId);
    expect(notification).toMatchObject({
      status: 'SENT',
      failureReason: null,
      webhookId: def.id,
      eventId: evt.id,
    });
    expect(notification!.attempts).toEqual([
      expect.objectContaining({
        number: 1,
        trigger: 'initial',
        statusCode: 200,
        outcome: 'SENT',
        error: null,
        responseBody: 'ok',
      }),
    ]);
    const stored = await harness.payloads.get(job.notificationId);
    expect(stored?.body).toBe(received.body);
  });

  describe('a receiver that echoes the request', () => {
    const password = 'S3cr\u00e9t/pa+ss"word';
    const secret = generateSigningSecret();
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const basic = Buffer.from(`svc:${password}`).toString('base64');
    const forms = [
      password,
      JSON.stringify(password).slice(1, -1),
      encodeURIComponent(password),
      Buffer.from(password).toString('base64'),
      basic,
      basic.replaceAll('/', '\\/'),
      encodeURIComponent(basic),
      secret,
      secret.slice('whsec_'.length),
      key.toString('hex'),
      key.toString('base64url'),
    ];
    const secretDef = () =>
      definition({
        url: `${receiver.url}/echo`,
        auth: { type: 'basic', username: 'svc', password },
        signingSecret: secret,
      });
    const findings = (text: string) =>
      forms.filter((f) => text.toLowerCase().includes(f.toLowerCase()));

    it('keeps the password, the Basic credential and the signing secret out of the stored excerpt', async () => {
      // 410: permanent, so no retry reaches the receiver during the next test.
      receiver.setBehaviour((req) => ({
        status: 410,
        body: `${JSON.stringify({ echoed: req.headers })}\n${forms.join('\n')}`,
      }));
      const def = secretDef();
      await harness.webhooks.put(def);
      const job = deliverJob(def, event({ loanId: 'L-echo' }));

      await harness.service.handleJob(job);

      // Arrange check: the receiver did get the credential and echoed it.
      expect(receiver.requests[0]!.headers.authorization).toBe(`Basic ${basic}`);
      const attempt = (await harness.notifications.get(job.notificationId))!.attempts[0]!;
      expect(attempt.statusCode).toBe(410);
      expect(attempt.responseBody).toContain('[REDACTED]');
      expect(findings(attempt.responseBody!)).toEqual([]);
      // What is not a secret stays readable.
      expect(attempt.responseBody).toContain('"webhook-id"');
    });

    it('also when the 1 KiB excerpt is cut in the middle of the Basic credential', async () => {
      receiver.setBehaviour((req) => ({
        status: 200,
        body: `${'.'.repeat(1024 - 20)}${String(req.headers.authorization)}`,
      }));
      const def = secretDef();
      await harness.webhooks.put(def);
      const job = deliverJob(def, event({ loanId: 'L-cut' }));

      await harness.service.handleJob(job);

      const excerpt = (await harness.notifications.get(job.notificationId))!.attempts[0]!
        .responseBody!;
      expect(excerpt.startsWith('.'.repeat(1000))).toBe(true);
      expect(excerpt).not.toContain(basic.slice(0, 8));
      expect(excerpt.endsWith('[REDACTED]')).toBe(true);
    });
  });

  it('escapes hostile data in an XML body with xml_escape', async () => {
    const def = definition({
      url: `${receiver.url}/xml`,
      contentType: 'application/xml',
      body: '<loan><name>{{ data.name | xml_escape }}</name><id>{{ data.loanId | xml_escape }}</id></loan>',
    });
    await harness.webhooks.put(def);

    await harness.service.handleJob(deliverJob(def, event({ name: HOSTILE, loanId: 'L-1&2' })));

    const received = receiver.requests[0]!;
    expect(received.headers['content-type']).toMatch(/^application\/xml/);
    const name = /<name>([\s\S]*)<\/name>/.exec(received.body)?.[1];
    expect(name).toBeDefined();
    expect(name).not.toMatch(/[<>]|&(?!(amp|lt|gt|quot|apos|#\d+);)/);
    const unescaped = name!
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&apos;|&#39;/g, "'")
      .replace(/&amp;/g, '&');
    expect(unescaped).toBe(HOSTILE);
    expect(received.body).toContain('<id>L-1&amp;2</id>');
  });

  it('sends a text/plain body with PUT, byte for byte', async () => {
    const def = definition({
      url: `${receiver.url}/text`,
      method: 'PUT',
      contentType: 'text/plain',
      body: 'Loan {{ data.loanId }} for {{ data.name }}',
    });
    await harness.webhooks.put(def);

    await harness.service.handleJob(deliverJob(def, event({ loanId: 'L-7', name: HOSTILE })));

    const received = receiver.requests[0]!;
    expect(received.method).toBe('PUT');
    expect(received.headers['content-type']).toMatch(/^text\/plain/);
    expect(received.body).toBe(`Loan L-7 for ${HOSTILE}`);
  });

  it('renders the URL and header templates and sends PATCH', async () => {
    const def = definition({
      url: `${receiver.url}/loans/{{ data.loanId }}?branch={{ data.branch | url_encode }}`,
      method: 'PATCH',
      headers: { 'X-Branch': '{{ data.branch }}', 'X-Event-Type': '{{ event.type }}' },
    });
    await harness.webhooks.put(def);

    await harness.service.handleJob(deliverJob(def, event({ loanId: 'L-42', branch: 'Main St' })));

    const received = receiver.requests[0]!;
    expect(received.method).toBe('PATCH');
    expect(received.url).toBe('/loans/L-42?branch=Main+St');
    expect(received.headers['x-branch']).toBe('Main St');
    expect(received.headers['x-event-type']).toBe('LOAN_DISBURSEMENT');
  });

  it('adds Basic Auth at send time and keeps the password out of the stored request and history', async () => {
    const password = 'pa:ss-Wörd-7731';
    const def = definition({
      url: `${receiver.url}/auth`,
      auth: { type: 'basic', username: 'svc', password },
    });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-1' }));

    await harness.service.handleJob(job);

    const received = receiver.requests[0]!;
    expect(received.headers.authorization).toBe(
      `Basic ${Buffer.from(`svc:${password}`).toString('base64')}`,
    );
    const stored = await harness.payloads.get(job.notificationId);
    const history = await harness.notifications.get(job.notificationId);
    expect(JSON.stringify(stored)).not.toContain(password);
    expect(JSON.stringify(stored)).not.toMatch(/authorization/i);
    expect(JSON.stringify(history)).not.toContain(password);
  });

  it('signs every request so that the standardwebhooks library verifies it', async () => {
    const secret = generateSigningSecret();
    const def = definition({ url: `${receiver.url}/signed`, signingSecret: secret });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-sig' }));

    await harness.service.handleJob(job);

    const received = receiver.requests[0]!;
    const headers = Object.fromEntries(
      Object.entries(received.headers).map(([k, v]) => [k, String(v)]),
    );
    expect(headers['webhook-id']).toBe(job.notificationId);
    expect(() => new Webhook(secret).verify(received.body, headers)).not.toThrow();
    expect(() => new Webhook(secret).verify(`${received.body} `, headers)).toThrow();
    expect(() => new Webhook(generateSigningSecret()).verify(received.body, headers)).toThrow();
    const stored = await harness.payloads.get(job.notificationId);
    expect(JSON.stringify(stored)).not.toContain('webhook-signature');
  });

  it('sends webhook-id and webhook-timestamp without a signature when no secret is set', async () => {
    const def = definition({ url: `${receiver.url}/unsigned` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-2' }));

    await harness.service.handleJob(job);

    const headers = receiver.requests[0]!.headers;
    expect(headers['webhook-id']).toBe(job.notificationId);
    expect(Number(headers['webhook-timestamp'])).toBeGreaterThan(1_700_000_000);
    expect(headers['webhook-signature']).toBeUndefined();
  });

  it('keeps the first rendering: after the definition is edited, a resend sends the old body', async () => {
    const def = definition({
      url: `${receiver.url}/v1`,
      body: '{"version": 1, "loan": {{ data.loanId | json }}}',
    });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-9' }));
    await harness.service.handleJob(job);
    const before = await harness.payloads.get(job.notificationId);
    await harness.webhooks.put(
      {
        ...def,
        url: `${receiver.url}/v2`,
        body: '{"version": 2}',
        version: 2,
        updatedAt: new Date().toISOString(),
      },
      1,
    );

    await harness.service.handleJob({ kind: 'resend', notificationId: job.notificationId });

    expect(receiver.requests.map((r) => [r.url, r.body])).toEqual([
      ['/v1', '{"version": 1, "loan": "L-9"}'],
      ['/v1', '{"version": 1, "loan": "L-9"}'],
    ]);
    expect(await harness.payloads.get(job.notificationId)).toEqual(before);
    const notification = await harness.notifications.get(job.notificationId);
    expect(notification!.attempts.map((a) => [a.number, a.trigger, a.outcome])).toEqual([
      [1, 'initial', 'SENT'],
      [2, 'manual', 'SENT'],
    ]);
  });

  it('a repeated deliver job (same producer event, or a duplicated message) records no second attempt', async () => {
    const def = definition({ url: `${receiver.url}/dup` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-3' }));

    await harness.service.handleJob(job);
    await harness.service.handleJob(job);

    expect(receiver.requests).toHaveLength(1);
    expect((await harness.notifications.get(job.notificationId))!.attempts).toHaveLength(1);
  });

  it('two concurrent copies of one job record exactly one attempt', async () => {
    const def = definition({ url: `${receiver.url}/race` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-4' }));

    await Promise.all([harness.service.handleJob(job), harness.service.handleJob(job)]);

    const notification = await harness.notifications.get(job.notificationId);
    expect(notification!.attempts).toHaveLength(1);
    expect(receiver.requests.length).toBeGreaterThanOrEqual(1);
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id']))).toEqual(
      new Set([job.notificationId]),
    );
  });

  it('fails a rendered request over 256 KiB with PAYLOAD_TOO_LARGE and sends nothing', async () => {
    const def = definition({
      url: `${receiver.url}/big`,
      body: '{"blob": {{ data.blob | json }}}',
    });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ blob: 'x'.repeat(300 * 1024) }));

    await harness.service.handleJob(job);

    expect(receiver.requests).toHaveLength(0);
    expect(await harness.notifications.get(job.notificationId)).toMatchObject({
      status: 'FAILED',
      failureReason: 'PAYLOAD_TOO_LARGE',
      attempts: [],
    });
    expect(await harness.payloads.get(job.notificationId)).toBeUndefined();
  });

  it('shows request null for notifications that failed before a request was stored, even if one is stored under the id later', async () => {
    const api = client(apiHandlerFor(standIns()).handler);
    const big = definition({
      url: `${receiver.url}/big2`,
      body: '{"blob": {{ data.blob | json }}}',
    });
    const broken = definition({ url: `${receiver.url}/broken`, body: '{"x": {{ data.text }}}' });
    await harness.webhooks.put(big);
    await harness.webhooks.put(broken);
    const tooLarge = deliverJob(big, event({ blob: 'x'.repeat(300 * 1024) }));
    const unrendered = deliverJob(broken, event({ text: 'not json' }));
    await harness.service.handleJob(tooLarge);
    await harness.service.handleJob(unrendered);

    for (const [job, reason] of [
      [tooLarge, 'PAYLOAD_TOO_LARGE'],
      [unrendered, 'TEMPLATE_ERROR'],
    ] as const) {
      const shown = await api.get(`/notifications/${job.notificationId}`);
      expect(shown.status).toBe(200);
      expect(shown.body).toMatchObject({ status: 'FAILED', failureReason: reason, request: null });
      // A repeated job rendering with a newer definition stores a request and sends nothing:
      // it was never this notification's request.
      await harness.payloads.putOnce(
        job.notificationId,
        { method: 'POST', url: `${receiver.url}/later`, headers: {}, body: '{}' },
        Math.floor(Date.now() / 1000) + 3600,
      );
      expect((await api.get(`/notifications/${job.notificationId}`)).body.request).toBeNull();
    }
    expect(receiver.requests).toHaveLength(0);
  });

  it('fails a template that does not render with TEMPLATE_ERROR and keeps the message', async () => {
    const def = definition({
      url: `${receiver.url}/strict`,
      strict: true,
      body: '{"x": {{ data.missing | json }}}',
    });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-5' }));

    await harness.service.handleJob(job);

    expect(receiver.requests).toHaveLength(0);
    const notification = await harness.notifications.get(job.notificationId);
    expect(notification).toMatchObject({ status: 'FAILED', failureReason: 'TEMPLATE_ERROR' });
    expect(notification!.failureDetail).toMatch(/missing/);
  });

  it('fails with WEBHOOK_DISABLED when the definition was disabled before delivery', async () => {
    const def = definition({ url: `${receiver.url}/disabled`, enabled: false });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-6' }));

    await harness.service.handleJob(job);

    expect(receiver.requests).toHaveLength(0);
    expect(await harness.notifications.get(job.notificationId)).toMatchObject({
      status: 'FAILED',
      failureReason: 'WEBHOOK_DISABLED',
    });
  });
});
