/**
 * rateLimitPerSecond bounds when attempts start: at most that many attempts to a webhook start
 * in any one-second window, also when the container is busy and wakes up late for the slots it
 * reserved. The health driver releases a backlog through the real delivery engine on memory
 * stores, under jest's fake clock; the sender only records when each attempt started.
 */
import { DeliveryService } from '../../lambdas/core/delivery';
import { HealthDriver } from '../../lambdas/core/health/driver';
import { HealthGate } from '../../lambdas/core/health/gate';
import {
  DEFAULT_HEALTH_SETTINGS,
  rateShards,
  slotLatenessMs,
  slotSpacingMs,
} from '../../lambdas/core/health/model';
import { Renderer } from '../../lambdas/core/render';
import type { HealthDriverInput } from '../../lambdas/ports';
import { busiestSecond } from '../support/busiest-second';
import { webhookDefinition } from '../support/history';
import {
  MemoryDeliveryQueue,
  MemoryHealthStore,
  MemoryNotificationStore,
  MemoryPayloadStore,
  MemoryResendJobStore,
  MemoryWebhookStore,
} from '../support/memory-stores';
import { SILENT_DELIVERY_OBSERVER, SILENT_HEALTH_OBSERVER } from '../support/silent-observers';

const T0 = Date.parse('2026-12-03T07:00:00.000Z');

afterEach(() => {
  jest.useRealTimers();
});

describe('rate limit', () => {
  it('lets an attempt start a little after its slot with the limit still holding in every second', () => {
    for (const limit of [1, 2, 20, 199, 200, 201, 399, 1000, 10_000]) {
      const late = slotLatenessMs(limit);
      expect(late).toBeGreaterThan(0);
      // The most slots of a shard, spaced as closely as they can be, whose attempts can start
      // in one second: those in a second plus the lateness allowed.
      const perShard = Math.ceil((1000 + late) / slotSpacingMs(limit));
      expect(rateShards(limit) * perShard).toBeLessThanOrEqual(limit);
    }
  });

  it('starts at most rateLimitPerSecond attempts in any second when the container wakes up late for its slots, and sends every one', async () => {
    jest.useFakeTimers({ now: T0 });
    const limit = 20;
    const count = 150;
    // The container is busy for 400 ms: a timer due meanwhile fires only when it is over.
    const busyFrom = T0 + 2000;
    const busyUntil = T0 + 2400;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const due = Date.now() + ms;
        const wake = due >= busyFrom && due < busyUntil ? busyUntil : due;
        setTimeout(resolve, Math.ceil(wake - Date.now()));
      });
    const clock = { now: () => new Date() };
    const settings = { ...DEFAULT_HEALTH_SETTINGS, cacheTtlMs: 0 };

    const webhooks = new MemoryWebhookStore();
    const definition = { ...webhookDefinition('wh_rate'), rateLimitPerSecond: limit };
    await webhooks.put(definition);
    const notifications = new MemoryNotificationStore();
    const payloads = new MemoryPayloadStore();
    const ids = Array.from({ length: count }, (_, i) => `ntf_${String(i).padStart(4, '0')}`);
    for (const id of ids) {
      await notifications.create(
        {
          id,
          webhookId: definition.id,
          eventId: `evt_${id}`,
          eventType: 'LOAN_DISBURSEMENT',
          createdAt: new Date(T0).toISOString(),
          status: 'WAITING',
          waitingReason: 'RATE_LIMITED',
          failureReason: null,
          attempts: [],
          nextAttemptAt: null,
        },
        T0 / 1000 + 86_400,
      );
      await payloads.putOnce(
        id,
        { method: 'POST', url: definition.url, headers: {}, body: '{}' },
        T0 / 1000 + 86_400,
      );
    }

    const store = new MemoryHealthStore();
    const drivers: HealthDriverInput[] = [];
    const gate = new HealthGate({
      store,
      scheduler: { startDriver: async (input) => void drivers.push(input) },
      clock,
      settings,
      observer: SILENT_HEALTH_OBSERVER,
      sleep,
    });
    const sent: { id: string; at: number }[] = [];
    const service = new DeliveryService({
      webhooks,
      notifications,
      payloads,
      resendJobs: new MemoryResendJobStore(),
      queue: new MemoryDeliveryQueue(),
      scheduler: { start: async () => {} },
      sender: {
        send: async (request) => {
          sent.push({ id: request.headers['webhook-id'] ?? '', at: Date.now() });
          return { kind: 'response', statusCode: 200, headers: {}, body: '', durationMs: 5 };
        },
      },
      clock,
      observer: SILENT_DELIVERY_OBSERVER,
      settings: { schedule: [1, 1, 1, 1, 1], timeScale: 1, retentionDays: 1 },
      health: gate,
    });
    const driver = new HealthDriver({
      store,
      gate,
      notifications,
      webhooks,
      parked: service,
      scheduler: { startDriver: async () => {} },
      clock,
      settings,
      observer: SILENT_HEALTH_OBSERVER,
    });

    await gate.ensureDriver(definition.id);
    let input: HealthDriverInput = { webhookId: definition.id, seq: 1, steps: 0 };
    for (let step = 0; step < 50; step++) {
      const running = driver.step(input);
      await jest.runAllTimersAsync();
      const output = await running;
      if (output.done) break;
      jest.setSystemTime(Math.max(Date.now(), Date.parse(output.wakeAt)));
      input = { webhookId: output.webhookId, seq: output.seq, steps: output.steps };
    }

    // Attempts did start while the container was busy and right after: the case under test.
    expect(sent.filter((s) => s.at >= busyFrom && s.at <= busyUntil + 1000).length).toBeGreaterThan(
      0,
    );
    expect(busiestSecond(sent.map((s) => s.at))).toBeLessThanOrEqual(limit);
    const history = await Promise.all(ids.map((id) => notifications.get(id)));
    expect(history.map((n) => n?.status)).toEqual(ids.map(() => 'SENT'));
    expect(
      busiestSecond(history.map((n) => Date.parse(n?.attempts[0]?.startedAt ?? ''))),
    ).toBeLessThanOrEqual(limit);
    expect(new Set(sent.map((s) => s.id)).size).toBe(count);
    expect(sent).toHaveLength(count);
  });
});

describe('deliveries and retries to a rate-limited webhook, outside its driver', () => {
  /** `count` deliver jobs at once to a webhook allowing `limit` per second. */
  async function burst(limit: number, count: number, lateByMs: number) {
    jest.useFakeTimers({ now: T0 });
    const clock = { now: () => new Date() };
    const webhooks = new MemoryWebhookStore();
    const definition = { ...webhookDefinition('wh_live'), rateLimitPerSecond: limit };
    await webhooks.put(definition);
    const notifications = new MemoryNotificationStore();
    const store = new MemoryHealthStore();
    const gate = new HealthGate({
      store,
      scheduler: { startDriver: async () => {} },
      clock,
      settings: { ...DEFAULT_HEALTH_SETTINGS, cacheTtlMs: 0 },
      observer: SILENT_HEALTH_OBSERVER,
      // A busy container wakes `lateByMs` after the slot it waited for.
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.ceil(ms) + lateByMs)),
    });
    const sent: string[] = [];
    const service = new DeliveryService({
      webhooks,
      notifications,
      payloads: new MemoryPayloadStore(),
      resendJobs: new MemoryResendJobStore(),
      queue: new MemoryDeliveryQueue(),
      scheduler: { start: async () => {} },
      sender: {
        send: async (request) => {
          sent.push(request.headers['webhook-id'] ?? '');
          return { kind: 'response', statusCode: 200, headers: {}, body: '', durationMs: 5 };
        },
      },
      renderer: new Renderer(),
      clock,
      observer: SILENT_DELIVERY_OBSERVER,
      settings: { schedule: [1, 1, 1, 1, 1], timeScale: 1, retentionDays: 1 },
      health: gate,
    });
    const ids = Array.from({ length: count }, (_, i) => `ntf_live_${i}`);
    const delivered = Promise.all(
      ids.map((id, i) =>
        service.handleJob({
          kind: 'deliver',
          notificationId: id,
          webhookId: definition.id,
          webhookVersion: definition.version,
          event: {
            id: `evt_${i}`,
            type: 'LOAN_DISBURSEMENT',
            occurredAt: new Date(T0).toISOString(),
            data: {},
          },
        }),
      ),
    );
    await jest.runAllTimersAsync();
    await delivered;
    const history = await Promise.all(ids.map((id) => notifications.get(id)));
    return { sent, history, service, notifications, store, gate, definition };
  }

  it('sends what the limit allows in-line and parks the rest RATE_LIMITED without an attempt', async () => {
    const { sent, history } = await burst(2, 10, 0);

    expect(sent.length).toBeGreaterThan(0);
    expect(sent.length).toBeLessThanOrEqual(2);
    const sentIds = history.filter((n) => n?.status === 'SENT').map((n) => n?.id);
    expect(sentIds.sort()).toEqual([...sent].sort());
    const waiting = history.filter((n) => n?.status !== 'SENT');
    expect(waiting).toHaveLength(10 - sent.length);
    for (const n of waiting)
      expect(n).toMatchObject({ status: 'WAITING', waitingReason: 'RATE_LIMITED', attempts: [] });
  });

  it('a delivery that wakes too late for its slot sends nothing and waits RATE_LIMITED, not lost', async () => {
    const { sent, history } = await burst(2, 2, 60_000);

    // The first slot is now (no wait); the second one's delivery woke a minute late.
    expect(sent).toEqual(['ntf_live_0']);
    expect(history[0]).toMatchObject({ status: 'SENT' });
    expect(history[1]).toMatchObject({
      status: 'WAITING',
      waitingReason: 'RATE_LIMITED',
      attempts: [],
    });
  });

  it('a retry that wakes too late for its slot sends nothing and waits RATE_LIMITED, its attempt not used', async () => {
    const { service, notifications, sent, store, gate, definition } = await burst(2, 2, 60_000);
    expect(sent).toEqual(['ntf_live_0']);
    // Say the second one's retry came due once its webhook's driver had ended.
    const record = (await store.get(definition.id))!;
    await store.transition({ ...record, driverRunning: false }, record.version);
    await notifications.setStatus('ntf_live_1', {
      status: 'WAITING',
      failureReason: 'INVALID_HTTP_RESPONSE',
      nextAttemptAt: new Date().toISOString(),
      waitingReason: 'RETRY_SCHEDULED',
    });
    // A delivery has just taken the current slot: the retry's is the next, and the busy
    // container wakes a minute after it.
    expect(await gate.reserveSlot(definition, 0)).toBeDefined();
    const retried = service.retry({ notificationId: 'ntf_live_1', retry: 1 });
    await jest.runAllTimersAsync();
    await retried;

    expect(sent).toEqual(['ntf_live_0']);
    expect(await notifications.get('ntf_live_1')).toMatchObject({
      status: 'WAITING',
      waitingReason: 'RATE_LIMITED',
      nextAttemptAt: null,
      attempts: [],
    });
  });
});
