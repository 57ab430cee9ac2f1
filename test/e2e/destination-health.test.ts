/**
 * Destination health end to end: local mode in a child process, driven only through its HTTP
 * API, delivering to loopback receivers that go down and come back. Cool-downs are scaled by
 * RETRY_TIME_SCALE. The assertions are on counts (requests the receiver saw, executions the
 * local Step Functions endpoint started, notifications and attempts recorded, attempts that
 * started in one second as the history records them), never on durations.
 */
import { forEachBounded } from '../../lambdas/core/concurrency';
import { busiestSecond } from '../support/busiest-second';
import { eventually } from '../support/eventually';
import { always, ok, type Receiver } from '../support/receivers';
import { executionsEnded, executionsStarted } from '../support/sfn-journal';
import { type ApiClient, definitionFor, useLocalMode } from './helpers';

jest.setTimeout(600_000);

/** `count` events of `type` in batches of 100, each accepted. */
async function publishMany(api: ApiClient, type: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 100) {
    const events = Array.from({ length: Math.min(100, count - start) }, (_, i) => ({
      type,
      data: { loanId: `L-${start + i}`, branch: 'b', amount: start + i },
    }));
    const res = await api.post('/events', { events });
    expect(res.status).toBe(202);
  }
}

/** When each attempt to a webhook started (epoch ms), from its notifications' history. */
async function attemptStarts(api: ApiClient, webhookId: string): Promise<number[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ webhookId, limit: '100' });
    if (cursor) query.set('cursor', cursor);
    const res = await api.get(`/notifications?${query}`);
    expect(res.status).toBe(200);
    ids.push(...res.body.items.map((n: { id: string }) => n.id));
    cursor = res.body.nextCursor;
  } while (cursor);
  const started: number[] = [];
  await forEachBounded(ids, 16, async (id) => {
    const res = await api.get(`/notifications/${id}`);
    expect(res.status).toBe(200);
    for (const a of res.body.attempts as { startedAt: string }[])
      started.push(Date.parse(a.startedAt));
  });
  return started;
}

describe('destination health, through the HTTP API', () => {
  const { dataDir, api, receiver } = useLocalMode({
    RETRY_TIME_SCALE: '0.01',
    DEFINITION_CACHE_TTL_SECONDS: '0',
    HEALTH_COUNT_FLUSH_SECONDS: '0',
  });

  async function webhook(target: Receiver, type: string, overrides: Record<string, unknown> = {}) {
    const res = await api.post(
      '/webhooks',
      definitionFor(target.url, { events: [type], ...overrides }),
    );
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  async function health(webhookId: string) {
    const res = await api.get(`/webhooks/${webhookId}/health`);
    expect(res.status).toBe(200);
    return res.body;
  }

  /** Every notification of a webhook (paging through the history). */
  async function notificationsOf(webhookId: string, status?: string) {
    const items: {
      id: string;
      status: string;
      waitingReason: string | null;
      failureReason: string | null;
    }[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ webhookId, limit: '100' });
      if (status) query.set('status', status);
      if (cursor) query.set('cursor', cursor);
      const res = await api.get(`/notifications?${query}`);
      expect(res.status).toBe(200);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    return items;
  }

  it('bounds an outage by destination: 1,000 notifications to a receiver that is down, then comes back', async () => {
    const target = await receiver(always(503, 'down'));
    const webhookId = await webhook(target, 'HEALTH_OUTAGE');
    const executionsBefore = executionsStarted(dataDir).length;

    await publishMany(api, 'HEALTH_OUTAGE', 1000);

    // All 1,000 wait in DynamoDB (parked), none consumed by retries in flight.
    await eventually(
      async () => {
        const h = await health(webhookId);
        return h.state === 'OPEN' && h.waiting === 1000 ? h : undefined;
      },
      { timeoutMs: 300_000, what: 'all 1,000 notifications parked behind the open circuit' },
    );
    const parkedAt = target.requests.length;
    // The circuit keeps probing (one request per cool-down) while it is open.
    await eventually(() => (target.requests.length >= parkedAt + 2 ? true : undefined), {
      timeoutMs: 120_000,
      what: 'two probes of the open circuit',
    });
    const whileDown = target.requests.length;
    const executionsWhileDown = executionsStarted(dataDir).slice(executionsBefore);
    const waiting = await notificationsOf(webhookId, 'WAITING');
    expect(waiting).toHaveLength(1000);
    expect(new Set(waiting.map((n) => n.waitingReason))).toEqual(new Set(['CIRCUIT_OPEN']));

    target.setBehaviour(ok());
    await eventually(
      async () => {
        const h = await health(webhookId);
        if (h.state !== 'CLOSED' || h.waiting !== 0) return undefined;
        const sent = await notificationsOf(webhookId, 'SENT');
        return sent.length === 1000 ? sent : undefined;
      },
      { timeoutMs: 300_000, what: 'all 1,000 notifications SENT after the receiver came back' },
    );

    // None recorded twice: exactly one SENT attempt each, and the receiver saw every one.
    const all = await notificationsOf(webhookId);
    expect(all).toHaveLength(1000);
    let sentTwice = 0;
    await forEachBounded(all, 16, async (n) => {
      const res = await api.get(`/notifications/${n.id}`);
      const sentAttempts = res.body.attempts.filter(
        (a: { outcome: string }) => a.outcome === 'SENT',
      );
      if (sentAttempts.length !== 1) sentTwice++;
    });
    expect(sentTwice).toBe(0);
    const delivered = target.requests.slice(whileDown).map((r) => r.headers['webhook-id']);
    expect(new Set(delivered).size).toBe(1000);
    expect(new Set(all.map((n) => n.id))).toEqual(new Set(delivered));

    const executionsTotal = executionsStarted(dataDir).slice(executionsBefore);
    const figures = {
      requestsWhileDown: whileDown,
      executionsWhileDown: executionsWhileDown.length,
      retryExecutions: executionsWhileDown.filter((n) => n.startsWith('retry-')).length,
      healthExecutions: executionsWhileDown.filter((n) => n.startsWith('health-')).length,
      executionsTotal: executionsTotal.length,
      requestsAfterRecovery: target.requests.length - whileDown,
      receiverDuplicatesAfterRecovery: delivered.length - new Set(delivered).size,
    };
    process.stdout.write(`destination-health outage figures: ${JSON.stringify(figures)}\n`);
    // The first wave is what was in flight before the first failures came back (pollers x batch).
    expect(whileDown).toBeLessThanOrEqual(80);
    expect(executionsWhileDown.length).toBeLessThanOrEqual(10);
  });

  it('pauses and resumes a webhook: paused sends nothing and nothing is discarded', async () => {
    const target = await receiver(ok());
    const webhookId = await webhook(target, 'HEALTH_PAUSE');

    const paused = await api.post(`/webhooks/${webhookId}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.state).toBe('PAUSED');
    // Deliveries read health through a cache of at most half a second locally.
    await new Promise((r) => setTimeout(r, 1500));

    await publishMany(api, 'HEALTH_PAUSE', 20);
    await eventually(async () => ((await health(webhookId)).waiting === 20 ? true : undefined), {
      timeoutMs: 120_000,
      what: '20 notifications waiting PAUSED',
    });
    const waiting = await notificationsOf(webhookId, 'WAITING');
    expect(waiting.map((n) => n.waitingReason)).toEqual(Array(20).fill('PAUSED'));
    expect(target.requests).toHaveLength(0);

    const resumed = await api.post(`/webhooks/${webhookId}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.state).toBe('CLOSED');
    await eventually(
      async () => ((await notificationsOf(webhookId, 'SENT')).length === 20 ? true : undefined),
      { timeoutMs: 120_000, what: 'the 20 paused notifications SENT after resume' },
    );
    expect(new Set(target.requests.map((r) => r.headers['webhook-id'])).size).toBe(20);
  });

  /** Pauses a webhook and parks `count` notifications behind the pause. */
  async function pausedWithWaiting(webhookId: string, type: string, count: number) {
    const paused = await api.post(`/webhooks/${webhookId}/pause`);
    expect(paused.status).toBe(200);
    // Deliveries read health through a cache of at most half a second locally.
    await new Promise((r) => setTimeout(r, 1500));
    await publishMany(api, type, count);
    await eventually(async () => ((await health(webhookId)).waiting === count ? true : undefined), {
      timeoutMs: 120_000,
      what: `${count} notifications waiting PAUSED`,
    });
  }

  /** Waits until every notification of the webhook ended FAILED with WEBHOOK_DISABLED. */
  async function allFailedDisabled(webhookId: string, count: number) {
    const failed = await eventually(
      async () => {
        const f = await notificationsOf(webhookId, 'FAILED');
        return f.length === count ? f : undefined;
      },
      { timeoutMs: 120_000, what: `all ${count} notifications FAILED` },
    );
    expect(failed.map((n) => n.failureReason)).toEqual(Array(count).fill('WEBHOOK_DISABLED'));
    expect(await notificationsOf(webhookId, 'WAITING')).toHaveLength(0);
  }

  it('ends what waits for a paused webhook FAILED (WEBHOOK_DISABLED) when the webhook is deleted', async () => {
    const target = await receiver(ok());
    const webhookId = await webhook(target, 'HEALTH_PAUSE_DELETE');
    await pausedWithWaiting(webhookId, 'HEALTH_PAUSE_DELETE', 5);

    expect((await api.del(`/webhooks/${webhookId}`)).status).toBe(204);

    await allFailedDisabled(webhookId, 5);
    expect(target.requests).toHaveLength(0);
  });

  it('disabling a paused webhook ends what waits, shows DISABLED since the disable, and enabling it again keeps the pause', async () => {
    const target = await receiver(ok());
    const type = 'HEALTH_PAUSE_DISABLE';
    const webhookId = await webhook(target, type);
    await pausedWithWaiting(webhookId, type, 5);

    const disabled = await api.put(
      `/webhooks/${webhookId}`,
      definitionFor(target.url, { events: [type], enabled: false }),
    );
    expect(disabled.status).toBe(200);
    await allFailedDisabled(webhookId, 5);
    // Edited while disabled: the health still dates DISABLED from the disable.
    const edited = await api.put(
      `/webhooks/${webhookId}`,
      definitionFor(target.url, { events: [type], enabled: false, name: 'renamed' }),
    );
    expect(edited.status).toBe(200);
    expect(edited.body.updatedAt).not.toBe(disabled.body.updatedAt);
    expect(await health(webhookId)).toMatchObject({
      state: 'DISABLED',
      disabledReason: 'MANUAL',
      since: disabled.body.updatedAt,
      nextProbeAt: null,
      waiting: 0,
    });

    // Enabled again: the pause set before the disable still holds until resume lifts it.
    const enabled = await api.put(
      `/webhooks/${webhookId}`,
      definitionFor(target.url, { events: [type], enabled: true }),
    );
    expect(enabled.status).toBe(200);
    expect(await health(webhookId)).toMatchObject({
      state: 'PAUSED',
      since: enabled.body.updatedAt,
      nextProbeAt: null,
      disabledReason: null,
    });
    await new Promise((r) => setTimeout(r, 1500));
    await publishMany(api, type, 1);
    await eventually(async () => ((await health(webhookId)).waiting === 1 ? true : undefined), {
      timeoutMs: 120_000,
      what: 'the new notification waiting PAUSED',
    });
    expect(target.requests).toHaveLength(0);

    expect((await api.post(`/webhooks/${webhookId}/resume`)).body.state).toBe('CLOSED');
    await eventually(
      async () => ((await notificationsOf(webhookId, 'SENT')).length === 1 ? true : undefined),
      { timeoutMs: 120_000, what: 'the notification sent after resume' },
    );
    expect(target.requests).toHaveLength(1);
  });

  it('a paused webhook whose circuit is open shows no probe coming, and its deletion ends what waits', async () => {
    const target = await receiver(always(503, 'down'));
    const type = 'HEALTH_OPEN_PAUSE_DELETE';
    const webhookId = await webhook(target, type);
    await publishMany(api, type, 10);
    await eventually(
      async () => {
        const h = await health(webhookId);
        return h.state === 'OPEN' && h.waiting === 10 ? h : undefined;
      },
      { timeoutMs: 120_000, what: '10 notifications parked behind the open circuit' },
    );

    const paused = await api.post(`/webhooks/${webhookId}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ state: 'PAUSED', nextProbeAt: null });
    // Paused, the circuit's driver ends: nothing probes, and nothing runs for the webhook.
    const drivers = executionsStarted(dataDir).filter((n) => n.startsWith(`health-${webhookId}-`));
    expect(drivers.length).toBeGreaterThanOrEqual(1);
    await eventually(
      () => {
        const ended = new Set(executionsEnded(dataDir));
        return executionsStarted(dataDir)
          .filter((n) => n.startsWith(`health-${webhookId}-`))
          .every((n) => ended.has(n))
          ? true
          : undefined;
      },
      { timeoutMs: 120_000, what: "the paused circuit's driver ended" },
    );
    expect((await health(webhookId)).waiting).toBe(10);

    expect((await api.del(`/webhooks/${webhookId}`)).status).toBe(204);
    await allFailedDisabled(webhookId, 10);
  });

  it('answers 404 for the health of an unknown webhook', async () => {
    const res = await api.get('/webhooks/wh_unknown/health');
    expect(res.status).toBe(404);
    expect((await api.post('/webhooks/wh_unknown/pause')).status).toBe(404);
  });
});

describe('auto-disable and rate limits, through the HTTP API', () => {
  // 0.01 h x 3600 x 0.01: a circuit open for about a third of a second disables its webhook.
  const { api, receiver } = useLocalMode({
    RETRY_TIME_SCALE: '0.01',
    AUTO_DISABLE_AFTER_HOURS: '0.01',
    DEFINITION_CACHE_TTL_SECONDS: '0',
  });

  async function countWithStatus(webhookId: string, status: string) {
    let n = 0;
    const reasons: (string | null)[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ webhookId, status, limit: '100' });
      if (cursor) query.set('cursor', cursor);
      const res = await api.get(`/notifications?${query}`);
      n += res.body.items.length;
      reasons.push(...res.body.items.map((i: { failureReason: string | null }) => i.failureReason));
      cursor = res.body.nextCursor;
    } while (cursor);
    return { n, reasons };
  }

  it('disables a webhook whose circuit stays open, fails what waits, and re-enables it on resume', async () => {
    const target = await receiver(always(500, 'broken'));
    const created = await api.post(
      '/webhooks',
      definitionFor(target.url, { events: ['HEALTH_DISABLE'] }),
    );
    const webhookId = created.body.id as string;

    await publishMany(api, 'HEALTH_DISABLE', 30);
    const health = await eventually(
      async () => {
        const h = await api.get(`/webhooks/${webhookId}/health`);
        return h.body.state === 'DISABLED' ? h.body : undefined;
      },
      { timeoutMs: 120_000, what: 'the webhook auto-disabled' },
    );
    expect(health.disabledReason).toBe('AUTO_DISABLED');
    const definition = (await api.get(`/webhooks/${webhookId}`)).body;
    expect(definition.enabled).toBe(false);
    // DISABLED since the auto-disable (not since the circuit opened), and no probe is coming.
    expect(health.since).toBe(definition.updatedAt);
    expect(health.nextProbeAt).toBeNull();
    const failed = await eventually(
      async () => {
        const f = await countWithStatus(webhookId, 'FAILED');
        return f.n === 30 ? f : undefined;
      },
      { timeoutMs: 120_000, what: 'all 30 notifications FAILED' },
    );
    expect(failed.reasons).toContain('WEBHOOK_DISABLED');
    expect((await countWithStatus(webhookId, 'WAITING')).n).toBe(0);

    const resumed = await api.post(`/webhooks/${webhookId}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.state).toBe('CLOSED');
    expect((await api.get(`/webhooks/${webhookId}`)).body.enabled).toBe(true);
  });

  it('never sends more than rateLimitPerSecond: 500 notifications at 20/s, none dropped', async () => {
    const target = await receiver(ok());
    const created = await api.post(
      '/webhooks',
      definitionFor(target.url, { events: ['HEALTH_RATE'], rateLimitPerSecond: 20 }),
    );
    expect(created.status).toBe(201);
    expect(created.body.rateLimitPerSecond).toBe(20);
    const webhookId = created.body.id as string;

    await publishMany(api, 'HEALTH_RATE', 500);
    await eventually(
      async () => ((await countWithStatus(webhookId, 'SENT')).n === 500 ? true : undefined),
      { timeoutMs: 300_000, what: 'all 500 rate-limited notifications SENT' },
    );

    // The limit is on when attempts start, as the history records them; when they reach this
    // receiver also depends on this (busy) test process, so that figure is only printed.
    const started = await attemptStarts(api, webhookId);
    const worstStarted = busiestSecond(started);
    const worstArrived = busiestSecond(target.requests.map((r) => r.at));
    process.stdout.write(
      `destination-health rate limit figures: ${JSON.stringify({ attempts: started.length, requests: target.requests.length, worstOneSecondOfStarts: worstStarted, worstOneSecondOfArrivals: worstArrived })}\n`,
    );
    expect(started.length).toBeGreaterThanOrEqual(500);
    expect(worstStarted).toBeLessThanOrEqual(20);
    expect(new Set(target.requests.map((r) => r.headers['webhook-id'])).size).toBe(500);
    expect((await countWithStatus(webhookId, 'FAILED')).n).toBe(0);
  });

  it('refuses a rateLimitPerSecond outside 1..10000 with a 400 naming the field', async () => {
    const target = await receiver(ok());
    for (const bad of [0, 10001, 2.5, '20']) {
      const res = await api.post(
        '/webhooks',
        definitionFor(target.url, { events: ['HEALTH_RATE_BAD'], rateLimitPerSecond: bad }),
      );
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body.error.details)).toContain('rateLimitPerSecond');
    }
  });
});
