/**
 * Local mode end to end: `npm start` in a child process, driven only through its HTTP API
 * (fetch to 127.0.0.1), delivering to real receivers on 127.0.0.1. Back-off waits are scaled
 * down (RETRY_TIME_SCALE) so the five automatic retries take seconds.
 */
import { eventually } from '../support/eventually';
import { always, failTimes, ok, type Receiver } from '../support/receivers';
import { definitionFor, notificationFor, notificationWithStatus, useLocalMode } from './helpers';

jest.setTimeout(180_000);

describe('local mode, through the HTTP API', () => {
  // No definition cache: each test's new webhook matches its very next event.
  const { api, receiver, local } = useLocalMode({
    RETRY_TIME_SCALE: '0.0005',
    DEFINITION_CACHE_TTL_SECONDS: '0',
  });

  async function webhook(
    target: Receiver,
    events: string[],
    overrides: Record<string, unknown> = {},
  ) {
    const res = await api.post('/webhooks', definitionFor(target.url, { events, ...overrides }));
    expect(res.status).toBe(201);
    return res.body as { id: string; body: string };
  }

  async function publish(type: string, data: Record<string, unknown>): Promise<string> {
    const res = await api.post('/events', { type, data });
    expect(res.status).toBe(202);
    return res.body.eventId as string;
  }

  it('delivers an event to a matching webhook: SENT after one attempt', async () => {
    const target = await receiver(ok());
    const hook = await webhook(target, ['E2E_OK']);

    const accepted = await api.post('/events', {
      type: 'E2E_OK',
      data: { loanId: 'L-1', amount: 250, branch: 'north' },
    });
    const notification = await notificationFor(api, hook.id, accepted.body.eventId);
    const sent = await notificationWithStatus(api, notification.id, 'SENT');

    expect(accepted.status).toBe(202);
    expect(accepted.body.notifications).toBe(1);
    expect(sent.attempts).toHaveLength(1);
    expect(sent.attempts[0]).toMatchObject({
      number: 1,
      trigger: 'initial',
      outcome: 'SENT',
      statusCode: 200,
    });
    expect(target.requests).toHaveLength(1);
    expect(target.requests[0]).toMatchObject({
      method: 'POST',
      url: '/loans/L-1',
      body: '{"loan": "L-1", "amount": 250}',
    });
    expect(target.requests[0]?.headers['x-branch']).toBe('north');
    expect(target.requests[0]?.headers['webhook-id']).toBe(notification.id);
    expect(sent.request).toMatchObject({
      method: 'POST',
      url: `${target.url}/loans/L-1`,
      body: '{"loan": "L-1", "amount": 250}',
    });
  });

  it('retries a receiver that always fails with growing gaps; the fifth failure in a row opens its circuit and the notification waits CIRCUIT_OPEN', async () => {
    const target = await receiver(always(500));
    const hook = await webhook(target, ['E2E_FAIL']);

    const eventId = await publish('E2E_FAIL', { loanId: 'L-2', amount: 1 });
    const notification = await notificationFor(api, hook.id, eventId);
    const waiting = await notificationWithStatus(api, notification.id, 'WAITING');
    expect(waiting.nextAttemptAt).toEqual(expect.any(String));
    const parked = await eventually(
      async () => {
        const res = await api.get(`/notifications/${notification.id}`);
        return res.body.waitingReason === 'CIRCUIT_OPEN' ? res.body : undefined;
      },
      { timeoutMs: 120_000, what: 'the notification waiting for the open circuit' },
    );
    expect(parked.status).toBe('WAITING');
    const triggers = parked.attempts.map((a: { trigger: string }) => a.trigger);
    expect(triggers.slice(0, 5)).toEqual(['initial', 'retry', 'retry', 'retry', 'retry']);
    expect(
      parked.attempts.every(
        (a: { statusCode: number; outcome: string }) =>
          a.statusCode === 500 && a.outcome === 'FAILED',
      ),
    ).toBe(true);
    const health = await api.get(`/webhooks/${hook.id}/health`);
    expect(health.body.state).toBe('OPEN');
    expect(health.body.consecutiveFailures).toBeGreaterThanOrEqual(5);
    // Exponential back-off (60 s x 5^n, scaled by 0.0005, -20 % jitter at most) between the
    // first five attempts: no retry came before its step's wait, each gap longer than the last.
    const at = target.requests.slice(0, 5).map((r) => r.at);
    const gaps = at.slice(1).map((t, i) => (t ?? 0) - (at[i] ?? 0));
    expect(gaps).toHaveLength(4);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(60 * 5 ** i * 0.0005 * 1000 * 0.8 - 5);
    });
    expect(Math.max(...gaps)).toBe(gaps[gaps.length - 1]);
  });

  it('ends SENT with three attempts when the receiver recovers at the third', async () => {
    const target = await receiver(failTimes(2, 503));
    const hook = await webhook(target, ['E2E_RECOVER']);

    const eventId = await publish('E2E_RECOVER', { loanId: 'L-3', amount: 3 });
    const notification = await notificationFor(api, hook.id, eventId);
    const sent = await notificationWithStatus(api, notification.id, 'SENT');

    expect(
      sent.attempts.map((a: { outcome: string; statusCode: number }) => [a.outcome, a.statusCode]),
    ).toEqual([
      ['FAILED', 503],
      ['FAILED', 503],
      ['SENT', 200],
    ]);
    expect(target.requests).toHaveLength(3);
    expect(new Set(target.requests.map((r) => r.body))).toEqual(
      new Set(['{"loan": "L-3", "amount": 3}']),
    );
  });

  it('resends the request as first rendered, after the definition was edited', async () => {
    const target = await receiver(ok());
    const hook = await webhook(target, ['E2E_EDIT']);
    const eventId = await publish('E2E_EDIT', { loanId: 'L-4', amount: 4 });
    const notification = await notificationFor(api, hook.id, eventId);
    await notificationWithStatus(api, notification.id, 'SENT');

    const edited = await api.put(
      `/webhooks/${hook.id}`,
      definitionFor(target.url, {
        events: ['E2E_EDIT'],
        body: '{"edited": true, "loan": {{ data.loanId | json }}}',
      }),
    );
    const preview = await api.post(`/webhooks/${hook.id}/preview`, {
      type: 'E2E_EDIT',
      data: { loanId: 'L-4', amount: 4 },
    });
    const resend = await api.post(`/notifications/${notification.id}/resend`);
    await eventually(async () => (target.requests.length >= 2 ? true : undefined), {
      what: 'the resent request',
    });
    const after = await eventually(async () => {
      const res = await api.get(`/notifications/${notification.id}`);
      return res.body.attempts.length === 2 ? res.body : undefined;
    });

    expect(edited.status).toBe(200);
    expect(preview.body.body).toBe('{"edited": true, "loan": "L-4"}');
    expect(resend.status).toBe(202);
    expect(target.requests[1]?.body).toBe('{"loan": "L-4", "amount": 4}');
    expect(target.requests[1]?.body).toBe(target.requests[0]?.body);
    expect(after.request.body).toBe('{"loan": "L-4", "amount": 4}');
    expect(after.attempts[1]).toMatchObject({ number: 2, trigger: 'manual', outcome: 'SENT' });
  });

  it('resends in bulk by date range through a background job', async () => {
    const target = await receiver(ok());
    const hook = await webhook(target, ['E2E_BULK']);
    const from = new Date(Date.now() - 60_000).toISOString();
    const ids: string[] = [];
    for (const loanId of ['B-1', 'B-2', 'B-3']) {
      const eventId = await publish('E2E_BULK', { loanId, amount: 1 });
      const n = await notificationFor(api, hook.id, eventId);
      await notificationWithStatus(api, n.id, 'SENT');
      ids.push(n.id);
    }
    const to = new Date(Date.now() + 60_000).toISOString();

    const job = await api.post('/notifications/resend', {
      from,
      to,
      webhookId: hook.id,
      status: 'SENT',
    });
    const done = await eventually(
      async () => {
        const res = await api.get(`/notifications/resend/${job.body.jobId}`);
        return res.status === 200 && res.body.sent === 3 ? res.body : undefined;
      },
      { what: 'the bulk resend job to finish' },
    );

    expect(job.status).toBe(202);
    expect(job.body).toMatchObject({ jobId: expect.any(String), count: 3 });
    expect(done).toMatchObject({ jobId: job.body.jobId, count: 3, sent: 3, failed: 0 });
    const perNotification = new Map<string, number>();
    for (const r of target.requests) {
      const id = String(r.headers['webhook-id']);
      perNotification.set(id, (perNotification.get(id) ?? 0) + 1);
    }
    expect(Object.fromEntries(perNotification)).toEqual(
      Object.fromEntries(ids.map((id) => [id, 2])),
    );
  });

  it('previews the rendered request without sending it', async () => {
    const target = await receiver(ok());
    const hook = await webhook(target, ['E2E_PREVIEW']);

    const res = await api.post(`/webhooks/${hook.id}/preview`, {
      type: 'E2E_PREVIEW',
      data: { loanId: 'P-1', amount: 9, branch: 'b' },
    });

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      method: 'POST',
      url: `${target.url}/loans/P-1`,
      body: '{"loan": "P-1", "amount": 9}',
    });
    expect(res.body.headers['X-Branch'] ?? res.body.headers['x-branch']).toBe('b');
    expect(target.requests).toHaveLength(0);
  });

  it('answers bad input with 4xx and a machine-readable code', async () => {
    const target = await receiver(ok());
    const cases = [
      { res: await api.post('/webhooks', {}), status: 400 },
      {
        res: await api.post('/webhooks', definitionFor(target.url, { body: '{"a": {{ data.x ' })),
        status: 400,
      },
      {
        res: await api.post('/webhooks', definitionFor(target.url, { method: 'GET' })),
        status: 400,
      },
      {
        res: await api.call('POST', '/events', undefined, {
          rawBody: 'type=A',
          contentType: 'text/plain',
        }),
        status: 415,
      },
      { res: await api.call('POST', '/events', undefined, { rawBody: '{"type":' }), status: 400 },
      {
        res: await api.post('/events', { type: 'E2E_BIG', data: { blob: 'x'.repeat(300 * 1024) } }),
        status: 413,
      },
      { res: await api.get('/notifications/ntf_doesnotexist'), status: 404 },
      { res: await api.get('/webhooks/wh_doesnotexist'), status: 404 },
      { res: await api.get('/notifications?status=LOST'), status: 400 },
    ];
    const batch = await api.post('/events', {
      events: [{ type: 'E2E_OK', data: {} }, { data: {} }],
    });

    for (const { res, status } of cases) {
      expect({ status: res.status, code: typeof res.body?.error?.code }).toEqual({
        status,
        code: 'string',
      });
    }
    expect(batch.status).toBe(400);
    expect(batch.body.error.details.some((d: { index?: number }) => d.index === 1)).toBe(true);
  });

  it('requires the bearer token on every route but /health', async () => {
    const missing = await api.call('GET', '/webhooks', undefined, { authorization: null });
    const wrong = await api.call('GET', '/webhooks', undefined, {
      authorization: 'Bearer not-the-token',
    });
    const basic = await api.call('GET', '/webhooks', undefined, {
      authorization: `Basic ${Buffer.from(`u:${local().token}`).toString('base64')}`,
    });
    const events = await api.call(
      'POST',
      '/events',
      { type: 'E2E_OK', data: {} },
      { authorization: null },
    );
    const health = await api.call('GET', '/health', undefined, { authorization: null });

    for (const res of [missing, wrong, basic, events]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        error: { code: 'UNAUTHORIZED', message: expect.any(String), details: [] },
      });
    }
    expect(health.status).toBe(200);
    expect(health.body.components).toEqual({
      dynamodb: 'up',
      sqs: 'up',
      stepFunctions: 'up',
      pollers: 'up',
    });
  });
});
