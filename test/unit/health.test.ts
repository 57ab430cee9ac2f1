import { ConfigError, loadDeliveryConfig } from '../../lambdas/config';
import { WebhookService } from '../../lambdas/core/api/webhooks';
import { NotFoundError } from '../../lambdas/core/errors';
import { HealthDriver, STEP_SEND_BUDGET_MS } from '../../lambdas/core/health/driver';
import { HealthGate } from '../../lambdas/core/health/gate';
import {
  countsAsFailure,
  DEFAULT_HEALTH_SETTINGS,
  driverPresumedDead,
  initialHealth,
  nextCooldown,
  shouldOpen,
  slotSpacingMs,
} from '../../lambdas/core/health/model';
import { HealthService } from '../../lambdas/core/health/service';
import type { Attempt } from '../../lambdas/core/model';
import { Renderer } from '../../lambdas/core/render';
import type { HealthDriverInput, HealthStore } from '../../lambdas/ports';
import { FUNCTION_ENV } from '../support/function-env';
import { notification } from '../support/history';
import {
  MemoryDeliveryQueue,
  MemoryHealthStore,
  MemoryNotificationStore,
  MemoryWebhookStore,
} from '../support/memory-stores';
import { SILENT_HEALTH_OBSERVER } from '../support/silent-observers';

const settings = DEFAULT_HEALTH_SETTINGS;

function attempt(outcome: 'SENT' | 'FAILED', durationMs = 20): Attempt {
  return {
    number: 1,
    trigger: 'initial',
    startedAt: '2026-12-03T07:00:00.000Z',
    durationMs,
    statusCode: outcome === 'SENT' ? 200 : 503,
    outcome,
    error: outcome === 'SENT' ? null : 'INVALID_HTTP_RESPONSE',
    responseBody: '',
  };
}

/** Counts the store calls that write, so the happy path can be shown to write nothing. */
function countingStore(inner: HealthStore) {
  const writes: string[] = [];
  const reads: string[] = [];
  const wrote = <T>(name: string, result: Promise<T>): Promise<T> => {
    writes.push(name);
    return result;
  };
  const store: HealthStore = {
    get: (id) => {
      reads.push('get');
      return inner.get(id);
    },
    addFailure: (id, now) => wrote('addFailure', inner.addFailure(id, now)),
    resetFailures: (id) => wrote('resetFailures', inner.resetFailures(id)),
    transition: (next, v) => wrote('transition', inner.transition(next, v)),
    slowDown: (id, until) => wrote('slowDown', inner.slowDown(id, until)),
    markWanted: (id, now) => wrote('markWanted', inner.markWanted(id, now)),
    beat: (id, seq, now) => wrote('beat', inner.beat(id, seq, now)),
    addCounts: (id, at, c) => wrote('addCounts', inner.addCounts(id, at, c)),
    readCounts: (id, f, t) => inner.readCounts(id, f, t),
    reserveSlots: (...args) => wrote('reserveSlots', inner.reserveSlots(...args)),
  };
  return { store, writes, reads };
}

function gateWith(store: HealthStore, now = () => new Date('2026-12-03T07:00:00Z')) {
  const started: HealthDriverInput[] = [];
  const opened: string[] = [];
  const restarted: { webhookId: string; seq: number; lastBeatAt: string }[] = [];
  const gate = new HealthGate({
    store,
    scheduler: { startDriver: async (input) => void started.push(input) },
    clock: { now },
    settings,
    observer: {
      ...SILENT_HEALTH_OBSERVER,
      circuitOpened: (id) => void opened.push(id),
      driverRestarted: (webhookId, seq, lastBeatAt) =>
        void restarted.push({ webhookId, seq, lastBeatAt }),
    },
  });
  return { gate, started, opened, restarted };
}

describe('destination health rules', () => {
  it('counts failed and slow attempts against health, refused targets not', () => {
    expect(countsAsFailure(attempt('FAILED'), settings)).toBe(true);
    expect(countsAsFailure(attempt('SENT', 14_000), settings)).toBe(true);
    expect(countsAsFailure(attempt('SENT', 9_999), settings)).toBe(false);
    expect(countsAsFailure(attempt('SENT', settings.slowThresholdMs), settings)).toBe(true);
    expect(countsAsFailure({ ...attempt('FAILED'), error: 'BLOCKED_URL' }, settings)).toBe(false);
  });

  it('opens after 5 failures in a row, or at least half of 20 or more attempts', () => {
    expect(shouldOpen(4, { attempts: 4, failed: 4 }, settings)).toBe(false);
    expect(shouldOpen(5, { attempts: 5, failed: 5 }, settings)).toBe(true);
    expect(shouldOpen(1, { attempts: 20, failed: 10 }, settings)).toBe(true);
    expect(shouldOpen(1, { attempts: 20, failed: 9 }, settings)).toBe(false);
    expect(shouldOpen(1, { attempts: 19, failed: 19 }, settings)).toBe(false);
  });

  it('opens and cools down as a deployment tunes it (CIRCUIT_BREAKER), and refuses bad tuning at cold start', () => {
    const loaded = (circuit: string) =>
      loadDeliveryConfig(
        { ...FUNCTION_ENV, CIRCUIT_BREAKER: circuit },
        [60, 300, 1500, 7500, 37500],
      );
    const tuned = {
      ...settings,
      ...loaded(
        '{"openAfterConsecutiveFailures":2,"windowMinAttempts":4,"windowFailureRatio":0.75,"cooldownSeconds":10,"maxCooldownSeconds":25}',
      ).health.circuitBreaker,
    };
    expect(shouldOpen(1, { attempts: 1, failed: 1 }, tuned)).toBe(false);
    expect(shouldOpen(2, { attempts: 2, failed: 2 }, tuned)).toBe(true);
    expect(shouldOpen(1, { attempts: 4, failed: 3 }, tuned)).toBe(true);
    expect(shouldOpen(1, { attempts: 4, failed: 2 }, tuned)).toBe(false);
    expect([0, 10, 20].map((c) => nextCooldown(c, tuned))).toEqual([10, 20, 25]);

    expect(() => loaded('{"cooldownSeconds":0}')).toThrow(ConfigError);
    expect(() => loaded('{"cooldownSeconds":0}')).toThrow(
      /CIRCUIT_BREAKER: circuitBreaker\.cooldownSeconds/,
    );
    expect(() => loaded('not json')).toThrow(/CIRCUIT_BREAKER/);
  });

  it('doubles the cool-down from 30 s up to 30 minutes', () => {
    const steps = [0];
    for (let i = 0; i < 8; i++) steps.push(nextCooldown(steps.at(-1)!, settings));
    expect(steps.slice(1)).toEqual([30, 60, 120, 240, 480, 960, 1800, 1800]);
  });

  it('spaces rate-limit slots so a second holds fewer than the limit', () => {
    expect(1000 / slotSpacingMs(20)).toBeLessThan(20);
    expect(1000 / slotSpacingMs(20)).toBeGreaterThan(17);
  });
});

describe('health gate', () => {
  it('writes nothing for successful attempts to a healthy webhook', async () => {
    const { store, writes, reads } = countingStore(new MemoryHealthStore());
    const { gate } = gateWith(store);

    for (let i = 0; i < 100; i++) {
      expect(await gate.admit({ id: 'wh_a' } as never)).toEqual({ kind: 'send' });
      await gate.observe('wh_a', attempt('SENT'));
    }

    expect(writes).toEqual([]);
    expect(reads).toHaveLength(1);
  });

  it('adds the successes of a webhook that went quiet once their interval is up, in one write', async () => {
    const { store, writes } = countingStore(new MemoryHealthStore());
    let now = new Date('2026-12-03T07:00:00Z');
    const gate = new HealthGate({
      store,
      scheduler: { startDriver: async () => undefined },
      clock: { now: () => now },
      settings,
      observer: SILENT_HEALTH_OBSERVER,
      countFlushMs: 20,
    });

    for (let i = 0; i < 3; i++) await gate.observe('wh_q', attempt('SENT'));
    expect(writes).toEqual([]);
    // Nothing more is sent to it: the counters still get the three, without waiting for an attempt.
    for (let i = 0; i < 400 && writes.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(writes).toEqual(['addCounts']);
    expect(await store.readCounts('wh_q', now, now)).toEqual({ sent: 3, failed: 0 });

    // Successes after a flush wait for the next interval; a due attempt adds them itself.
    await gate.observe('wh_q', attempt('SENT'));
    now = new Date(now.getTime() + 20);
    await gate.observe('wh_q', attempt('SENT'));
    await new Promise((r) => setTimeout(r, 60));
    expect(writes).toEqual(['addCounts', 'addCounts']);
    expect(await store.readCounts('wh_q', now, now)).toEqual({ sent: 5, failed: 0 });
  });

  it('shares one record read among concurrent deliveries that find the cache expired', async () => {
    const { store, reads } = countingStore(new MemoryHealthStore());
    const { gate } = gateWith(store);

    await Promise.all(Array.from({ length: 16 }, () => gate.admit({ id: 'wh_r' } as never)));

    expect(reads).toHaveLength(1);
  });

  it('opens the circuit on the fifth failure in a row, starts one driver and parks what follows', async () => {
    const { gate, started, opened } = gateWith(new MemoryHealthStore());

    for (let i = 0; i < 5; i++) await gate.observe('wh_b', attempt('FAILED'));

    expect(opened).toEqual(['wh_b']);
    expect(started).toEqual([{ webhookId: 'wh_b', seq: 1, steps: 0 }]);
    expect(await gate.admit({ id: 'wh_b' } as never)).toEqual({
      kind: 'park',
      reason: 'CIRCUIT_OPEN',
    });
    await gate.ensureDriver('wh_b');
    expect(started).toHaveLength(1);
  });

  it('slows the whole webhook for the Retry-After of a 429 or 503 only, not for that of another failure', async () => {
    const now = new Date('2026-12-03T07:00:00Z');
    const { gate } = gateWith(new MemoryHealthStore(), () => now);

    for (const statusCode of [500, 502, 410]) {
      const record = await gate.observe('wh_ra', { ...attempt('FAILED'), statusCode }, 1200);
      expect(record?.slowUntil).toBeNull();
    }
    expect(await gate.admit({ id: 'wh_ra' } as never)).toEqual({ kind: 'send' });

    const slowed = await gate.observe('wh_ra', { ...attempt('FAILED'), statusCode: 429 }, 1200);
    expect(slowed?.slowUntil).toBe(new Date(now.getTime() + 1_200_000).toISOString());
    expect(await gate.admit({ id: 'wh_ra' } as never)).toEqual({
      kind: 'park',
      reason: 'RATE_LIMITED',
    });
  });

  it('a new notification to a rate-limited webhook joins the backlog its driver releases rather than overtake it', async () => {
    const store = new MemoryHealthStore();
    const { gate } = gateWith(store);
    const limited = { id: 'wh_rl', rateLimitPerSecond: 5 } as never;
    expect(await gate.admit(limited)).toMatchObject({ kind: 'send' });

    await gate.ensureDriver('wh_rl');

    expect(await gate.admit(limited)).toEqual({ kind: 'park', reason: 'RATE_LIMITED' });
  });

  it('judges the failure ratio over the attempts of the last 60 s only', async () => {
    const t0 = Date.parse('2026-12-03T07:00:00Z');
    const ratioOpens = async (laterMs: number) => {
      let nowMs = t0;
      const { gate, opened } = gateWith(new MemoryHealthStore(), () => new Date(nowMs));
      // 19 attempts, 9 failed, never two failures in a row: nothing opens yet.
      for (let i = 0; i < 19; i++)
        await gate.observe('wh_w', attempt(i % 2 === 1 ? 'FAILED' : 'SENT'));
      expect(opened).toEqual([]);
      // One more failure makes half of 20, if the first 19 are still inside the window.
      nowMs = t0 + laterMs;
      await gate.observe('wh_w', attempt('FAILED'));
      return opened.length > 0;
    };

    expect(await ratioOpens(59_000)).toBe(true);
    expect(await ratioOpens(60_000)).toBe(false);
  });

  it('resets the consecutive count once after a success that follows failures', async () => {
    const { store, writes } = countingStore(new MemoryHealthStore());
    const { gate } = gateWith(store);
    await gate.observe('wh_c', attempt('FAILED'));
    writes.length = 0;

    await gate.observe('wh_c', attempt('SENT'));
    await gate.observe('wh_c', attempt('SENT'));

    expect(writes).toEqual(['resetFailures']);
    expect((await store.get('wh_c'))?.consecutiveFailures).toBe(0);
  });
});

describe('a health driver that died', () => {
  const t0 = Date.parse('2026-12-03T07:00:00Z');

  it('is replaced by the next park once it stopped beating for the lease, under a new execution name', async () => {
    const store = new MemoryHealthStore();
    let nowMs = t0;
    const { gate, started, restarted } = gateWith(store, () => new Date(nowMs));
    await gate.ensureDriver('wh_d');
    expect(started).toEqual([{ webhookId: 'wh_d', seq: 1, steps: 0 }]);

    // Within the lease, parks leave the running driver alone.
    nowMs = t0 + settings.driverLeaseMs - 1000;
    gate.forget('wh_d');
    await gate.ensureDriver('wh_d');
    expect(started).toHaveLength(1);

    // The execution died (failed, timed out, stopped): nothing beat for the whole lease.
    nowMs = t0 + settings.driverLeaseMs;
    gate.forget('wh_d');
    await gate.ensureDriver('wh_d');
    await gate.ensureDriver('wh_d');

    expect(started).toEqual([
      { webhookId: 'wh_d', seq: 1, steps: 0 },
      { webhookId: 'wh_d', seq: 2, steps: 0 },
    ]);
    expect(restarted).toEqual([
      { webhookId: 'wh_d', seq: 2, lastBeatAt: new Date(t0).toISOString() },
    ]);
    const record = await store.get('wh_d');
    expect(record?.driverRunning).toBe(true);
    expect(record?.driverBeatAt).toBe(new Date(nowMs).toISOString());
  });

  it('only one of two containers noticing the dead driver starts the new one', async () => {
    const store = new MemoryHealthStore();
    let nowMs = t0;
    const a = gateWith(store, () => new Date(nowMs));
    const b = gateWith(store, () => new Date(nowMs));
    await a.gate.ensureDriver('wh_e');
    nowMs = t0 + settings.driverLeaseMs + 1;

    await Promise.all([a.gate.ensureDriver('wh_e'), b.gate.ensureDriver('wh_e')]);

    const seqs = [...a.started, ...b.started].map((s) => s.seq).sort();
    expect(seqs).toEqual([1, 2]);
  });

  it('is never presumed dead while it beats, nor when its record predates beats', () => {
    const base = {
      ...initialHealth('wh_f', new Date(t0)),
      driverRunning: true,
      driverSeq: 3,
    };
    const later = new Date(t0 + settings.driverLeaseMs * 10);
    expect(driverPresumedDead({ ...base, driverBeatAt: null }, later, settings)).toBe(false);
    expect(
      driverPresumedDead(
        { ...base, driverBeatAt: new Date(later.getTime() - 60_000).toISOString() },
        later,
        settings,
      ),
    ).toBe(false);
    expect(
      driverPresumedDead({ ...base, driverBeatAt: new Date(t0).toISOString() }, later, settings),
    ).toBe(true);
    expect(
      driverPresumedDead(
        { ...base, driverRunning: false, driverBeatAt: new Date(t0).toISOString() },
        later,
        settings,
      ),
    ).toBe(false);
  });

  it('beats from its steps, and a replaced driver ends at its next step', async () => {
    const store = new MemoryHealthStore();
    let nowMs = t0;
    const clock = { now: () => new Date(nowMs) };
    const { gate, started } = gateWith(store, clock.now);
    const webhooks = new MemoryWebhookStore();
    await webhooks.put({ id: 'wh_g', enabled: true, version: 1 } as never);
    const driver = new HealthDriver({
      store,
      gate,
      notifications: new MemoryNotificationStore(),
      webhooks,
      parked: { release: async () => 'SKIPPED', settleParked: async () => {} },
      scheduler: { startDriver: async () => {} },
      clock,
      settings,
      observer: SILENT_HEALTH_OBSERVER,
    });
    await gate.ensureDriver('wh_g');
    // Make the driver wait (slowed down) so its step does not end it.
    await store.slowDown('wh_g', new Date(t0 + 3600_000).toISOString());

    nowMs = t0 + settings.driverBeatIntervalMs;
    const step = await driver.step({ webhookId: 'wh_g', seq: 1, steps: 0 });
    expect(step.done).toBe(false);
    expect((await store.get('wh_g'))?.driverBeatAt).toBe(new Date(nowMs).toISOString());

    // It keeps beating, so a park a lease after its start does not replace it.
    nowMs = t0 + settings.driverLeaseMs;
    gate.forget('wh_g');
    await gate.ensureDriver('wh_g');
    expect(started).toHaveLength(1);

    // Replaced (say its step hung past the lease): the old execution ends, the new one runs.
    nowMs += settings.driverLeaseMs;
    gate.forget('wh_g');
    await gate.ensureDriver('wh_g');
    expect(started.map((s) => s.seq)).toEqual([1, 2]);
    expect((await driver.step({ webhookId: 'wh_g', seq: 1, steps: 1 })).done).toBe(true);
    expect((await driver.step({ webhookId: 'wh_g', seq: 2, steps: 0 })).done).toBe(false);
  });
});

describe('a release step and a slow receiver', () => {
  it('starts no send later than its budget after the step began, and leaves the rest to the next step', async () => {
    const t0 = Date.parse('2026-12-03T07:00:00Z');
    let nowMs = t0;
    const clock = { now: () => new Date(nowMs) };
    const store = new MemoryHealthStore();
    const { gate } = gateWith(store, clock.now);
    const webhooks = new MemoryWebhookStore();
    await webhooks.put({ id: 'wh_s', enabled: true, version: 1 } as never);
    const notifications = new MemoryNotificationStore();
    for (let i = 0; i < settings.releasePageSize; i++)
      await notifications.create(
        notification(`ntf_${String(i).padStart(3, '0')}`, {
          webhookId: 'wh_s',
          status: 'WAITING',
          waitingReason: 'CIRCUIT_OPEN',
        }),
        Math.floor(t0 / 1000) + 86_400,
      );
    // Every request takes 4 s (under the slow threshold): a wave of concurrent releases ends
    // 4 s after it started, and the next wave starts then.
    const startedAt: number[] = [];
    const driver = new HealthDriver({
      store,
      gate,
      notifications,
      webhooks,
      parked: {
        release: async () => {
          const start = nowMs;
          startedAt.push(start - t0);
          await new Promise((resolve) => setImmediate(resolve));
          nowMs = Math.max(nowMs, start + 4000);
          return 'SENT';
        },
        settleParked: async () => {},
      },
      scheduler: { startDriver: async () => {} },
      clock,
      settings,
      observer: SILENT_HEALTH_OBSERVER,
    });
    await gate.ensureDriver('wh_s');

    const step = await driver.step({ webhookId: 'wh_s', seq: 1, steps: 0 });

    // Waves start at 0, 4 and 8 s; the fourth (12 s) would not end inside the attempt Lambda's
    // 30 s with the sender's 15 s timeout, so it is not started.
    expect(Math.max(...startedAt)).toBeLessThan(STEP_SEND_BUDGET_MS);
    expect(startedAt).toHaveLength(3 * settings.releaseConcurrency);
    expect(startedAt.length).toBeLessThan(settings.releasePageSize);
    // The next step follows at once.
    expect(step.done).toBe(false);
    expect(step.wakeAt).toBe(new Date(nowMs).toISOString());
  });
});

describe('a release step, the rate limit and the concurrency cap', () => {
  const t0 = Date.parse('2026-12-03T07:00:00Z');

  async function parkedWebhook(
    id: string,
    count: number,
    extra: Record<string, unknown>,
    reason: 'CIRCUIT_OPEN' | 'PAUSED' = 'CIRCUIT_OPEN',
  ) {
    const webhooks = new MemoryWebhookStore();
    await webhooks.put({ id, enabled: true, version: 1, ...extra } as never);
    const notifications = new MemoryNotificationStore();
    for (let i = 0; i < count; i++)
      await notifications.create(
        notification(`ntf_${id}_${String(i).padStart(3, '0')}`, {
          webhookId: id,
          status: 'WAITING',
          waitingReason: reason,
        }),
        Math.floor(t0 / 1000) + 86_400,
      );
    return { webhooks, notifications };
  }

  it("gives the circuit's probe a rate-limit slot like any request, after the slots already taken", async () => {
    const nowMs = t0;
    const clock = { now: () => new Date(nowMs) };
    const store = new MemoryHealthStore();
    const { gate } = gateWith(store, clock.now);
    const { webhooks, notifications } = await parkedWebhook('wh_p', 1, { rateLimitPerSecond: 1 });
    await gate.ensureDriver('wh_p');
    const record = (await store.get('wh_p'))!;
    await store.transition(
      { ...record, state: 'OPEN', openedAt: clock.now().toISOString(), nextProbeAt: null },
      record.version,
    );
    // A delivery took the current slot a moment ago.
    const taken = await gate.reserveSlot({ id: 'wh_p', rateLimitPerSecond: 1 } as never, 1000);
    const probes: { slot?: number }[] = [];
    const driver = new HealthDriver({
      store,
      gate,
      notifications,
      webhooks,
      parked: {
        release: async (_id, opts) => {
          probes.push({ slot: opts.slot });
          return 'SENT';
        },
        settleParked: async () => {},
      },
      scheduler: { startDriver: async () => {} },
      clock,
      settings,
      observer: SILENT_HEALTH_OBSERVER,
    });

    await driver.step({ webhookId: 'wh_p', seq: 1, steps: 0 });

    expect(probes).toHaveLength(1);
    expect(probes[0]?.slot).toBe(taken! + slotSpacingMs(1));
  });

  it("releases no more at once than the webhook's maxConcurrency, and after a release turned away at the cap looks again a second later", async () => {
    let nowMs = t0;
    const clock = { now: () => new Date(nowMs) };
    const store = new MemoryHealthStore();
    const { gate } = gateWith(store, clock.now);
    const { webhooks, notifications } = await parkedWebhook(
      'wh_c',
      10,
      { maxConcurrency: 3 },
      'PAUSED',
    );
    await gate.ensureDriver('wh_c');
    let inFlight = 0;
    let maxInFlight = 0;
    let busy = false;
    const driver = new HealthDriver({
      store,
      gate,
      notifications,
      webhooks,
      parked: {
        release: async () => {
          if (busy) return 'BUSY';
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((resolve) => setImmediate(resolve));
          inFlight--;
          return 'SENT';
        },
        settleParked: async () => {},
        capOf: (definition) => definition.maxConcurrency ?? 10,
      },
      scheduler: { startDriver: async () => {} },
      clock,
      settings,
      observer: SILENT_HEALTH_OBSERVER,
    });

    const first = await driver.step({ webhookId: 'wh_c', seq: 1, steps: 0 });
    expect(maxInFlight).toBe(3);
    expect(first.wakeAt).toBe(new Date(nowMs).toISOString());

    // Live deliveries now hold every slot of the cap.
    busy = true;
    nowMs += 10;
    const second = await driver.step({ webhookId: 'wh_c', seq: 1, steps: 1 });
    expect(second.done).toBe(false);
    expect(second.wakeAt).toBe(new Date(nowMs + 1000).toISOString());
  });
});

describe('a disabled or deleted webhook and what waits for it', () => {
  const t0 = Date.parse('2026-12-03T07:00:00Z');

  function apiWith(nowMs: () => number) {
    const store = new MemoryHealthStore();
    const webhooks = new MemoryWebhookStore();
    const queue = new MemoryDeliveryQueue();
    const clock = { now: () => new Date(nowMs()) };
    const health = new HealthService({
      store,
      webhooks,
      notifications: new MemoryNotificationStore(),
      queue,
      clock,
    });
    const definitions = new WebhookService({ webhooks, renderer: new Renderer(), clock, health });
    const body = (enabled: boolean) => ({
      name: 'health',
      events: ['LOAN_DISBURSEMENT'],
      enabled,
      method: 'POST',
      url: 'https://receiver.example.com/hook',
      contentType: 'application/json',
      body: '{}',
    });
    return { store, queue, health, definitions, body };
  }

  it('disabling or deleting a paused webhook has its driver settle what waits, even before anything is parked', async () => {
    let nowMs = t0;
    const { store, queue, health, definitions, body } = apiWith(() => nowMs);
    const a = await definitions.create(body(true));
    const b = await definitions.create(body(true));
    await health.pause(a.id);
    await health.pause(b.id);

    nowMs += 1000;
    await definitions.replace(a.id, body(false));
    await definitions.delete(b.id);

    expect(queue.drain()).toEqual([
      { kind: 'health', webhookId: a.id },
      { kind: 'health', webhookId: b.id },
    ]);
    expect((await store.get(a.id))?.disabledAt).toBe(new Date(nowMs).toISOString());
    // Repeating the disable adds nothing: nothing waits, and the driver was asked for.
    await definitions.replace(a.id, body(false));
    expect(queue.drain()).toEqual([]);
  });

  it('a DELETE that failed after the definition went is completed by repeating it (answered 404)', async () => {
    let nowMs = t0;
    const { store, queue, health, definitions, body } = apiWith(() => nowMs);
    const a = await definitions.create(body(true));
    await health.pause(a.id);

    nowMs += 1000;
    // The queue refuses the driver's job once: the definition is gone, the DELETE answers 5xx.
    jest.spyOn(queue, 'enqueue').mockRejectedValueOnce(new Error('queue unavailable'));
    await expect(definitions.delete(a.id)).rejects.toThrow('queue unavailable');
    expect(queue.drain()).toEqual([]);
    expect((await store.get(a.id))?.disabledAt).toBe(new Date(nowMs).toISOString());

    // The client retries: 404, and the paused webhook's driver is asked for after all.
    nowMs += 1000;
    await expect(definitions.delete(a.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(queue.drain()).toEqual([{ kind: 'health', webhookId: a.id }]);
    // The deletion's instant stays the first DELETE's.
    expect((await store.get(a.id))?.disabledAt).toBe(new Date(nowMs - 1000).toISOString());

    // A DELETE of a webhook that never existed asks for nothing.
    await expect(definitions.delete('wh_unknown')).rejects.toBeInstanceOf(NotFoundError);
    expect(queue.drain()).toEqual([]);
    expect(await store.get('wh_unknown')).toBeUndefined();
  });

  it('resume re-enables an auto-disabled webhook with a fresh circuit and asks for its driver to release what waits', async () => {
    let nowMs = t0;
    const { store, queue, health, definitions, body } = apiWith(() => nowMs);
    const created = await definitions.create(body(true));
    // The driver disabled it: its circuit had been open for 120 hours.
    nowMs += 120 * 3_600_000;
    const def = await definitions.replace(created.id, body(false));
    const record = (await store.get(def.id))!;
    await store.transition(
      {
        ...record,
        state: 'OPEN',
        openedAt: new Date(t0).toISOString(),
        autoDisabled: true,
        consecutiveFailures: 9,
      },
      record.version,
    );
    queue.drain();

    nowMs += 60_000;
    const shown = await health.resume(def.id);

    expect(shown).toMatchObject({ state: 'CLOSED', consecutiveFailures: 0, disabledReason: null });
    expect(await definitions.get(def.id)).toMatchObject({
      enabled: true,
      version: def.version + 1,
    });
    expect(queue.drain()).toEqual([{ kind: 'health', webhookId: def.id }]);
  });

  it('shows DISABLED since the disable with no probe, and enabling again keeps the pause with a fresh circuit', async () => {
    let nowMs = t0;
    const { store, health, definitions, body } = apiWith(() => nowMs);
    const def = await definitions.create(body(true));
    await health.pause(def.id);
    const paused = await store.get(def.id);
    if (!paused) throw new Error('no record');
    // The circuit was open (and for long) before the pause.
    expect(
      await store.transition(
        {
          ...paused,
          state: 'OPEN',
          openedAt: new Date(t0 - 10 * 86_400_000).toISOString(),
          cooldownSeconds: 1800,
          nextProbeAt: new Date(t0 + 60_000).toISOString(),
        },
        paused.version,
      ),
    ).toBe(true);
    expect(await health.get(def.id)).toMatchObject({ state: 'PAUSED', nextProbeAt: null });

    nowMs = t0 + 1000;
    await definitions.replace(def.id, body(false));
    nowMs = t0 + 2000;
    await definitions.replace(def.id, { ...body(false), name: 'renamed' });
    expect(await health.get(def.id)).toMatchObject({
      state: 'DISABLED',
      disabledReason: 'MANUAL',
      since: new Date(t0 + 1000).toISOString(),
      nextProbeAt: null,
    });

    nowMs = t0 + 3000;
    await definitions.replace(def.id, body(true));
    expect(await health.get(def.id)).toMatchObject({
      state: 'PAUSED',
      since: new Date(t0 + 3000).toISOString(),
      nextProbeAt: null,
      disabledReason: null,
    });
    expect(await store.get(def.id)).toMatchObject({
      paused: true,
      state: 'CLOSED',
      openedAt: null,
      disabledAt: null,
      autoDisabled: false,
    });
  });

  it('a notification parked PAUSED after the disable (its delivery had the definition cached) wakes a driver', async () => {
    const store = new MemoryHealthStore();
    const { gate, started } = gateWith(store);
    const paused = { ...initialHealth('wh_h', new Date(t0)), paused: true };
    expect(await store.transition(paused, 0)).toBe(true);
    await gate.reportParked({ notificationId: 'n1', webhookId: 'wh_h' }, 'PAUSED');
    expect(started).toEqual([]);

    expect(await store.transition({ ...paused, disabledAt: new Date(t0).toISOString() }, 1)).toBe(
      true,
    );
    gate.forget('wh_h');
    await gate.reportParked({ notificationId: 'n2', webhookId: 'wh_h' }, 'PAUSED');
    expect(started).toEqual([{ webhookId: 'wh_h', seq: 1, steps: 0 }]);
  });

  it("the disabled webhook's driver ends only once no container can still park against the enabled record", async () => {
    const store = new MemoryHealthStore();
    let nowMs = t0;
    const clock = { now: () => new Date(nowMs) };
    const { gate } = gateWith(store, clock.now);
    const webhooks = new MemoryWebhookStore();
    await webhooks.put({ id: 'wh_i', enabled: false, version: 1 } as never);
    const settled: string[] = [];
    const driver = new HealthDriver({
      store,
      gate,
      notifications: new MemoryNotificationStore(),
      webhooks,
      parked: { release: async () => 'SKIPPED', settleParked: async (id) => void settled.push(id) },
      scheduler: { startDriver: async () => {} },
      clock,
      settings,
      observer: SILENT_HEALTH_OBSERVER,
    });
    expect(
      await store.transition(
        {
          ...initialHealth('wh_i', clock.now()),
          paused: true,
          disabledAt: clock.now().toISOString(),
        },
        0,
      ),
    ).toBe(true);
    await gate.ensureDriver('wh_i');

    nowMs = t0 + settings.endGraceMs;
    const step = await driver.step({ webhookId: 'wh_i', seq: 1, steps: 0 });
    const quiet = t0 + settings.cacheTtlMs + settings.endGraceMs;
    expect(step).toMatchObject({ done: false, wakeAt: new Date(quiet).toISOString() });

    nowMs = quiet;
    expect((await driver.step(step)).done).toBe(true);
    expect((await store.get('wh_i'))?.driverRunning).toBe(false);
  });
});

describe("an open circuit's driver", () => {
  const t0 = Date.parse('2026-12-03T07:00:00Z');
  const HOUR = 3_600_000;

  /** A webhook whose circuit opened at `openedAt`, one notification parked behind it, a driver running. */
  async function openCircuit(id: string, change: Record<string, unknown> = {}) {
    let nowMs = t0;
    const clock = { now: () => new Date(nowMs) };
    const store = new MemoryHealthStore();
    const { gate } = gateWith(store, clock.now);
    const webhooks = new MemoryWebhookStore();
    await webhooks.put({ id, enabled: true, version: 1 } as never);
    const notifications = new MemoryNotificationStore();
    await notifications.create(
      notification(`ntf_${id}`, {
        webhookId: id,
        status: 'WAITING',
        waitingReason: 'CIRCUIT_OPEN',
      }),
      Math.floor(t0 / 1000) + 86_400,
    );
    await gate.ensureDriver(id);
    const record = (await store.get(id))!;
    await store.transition(
      {
        ...record,
        state: 'OPEN',
        openedAt: new Date(t0).toISOString(),
        cooldownSeconds: settings.cooldownSeconds,
        nextProbeAt: new Date(t0 + settings.cooldownSeconds * 1000).toISOString(),
        ...change,
      },
      record.version,
    );
    const released: string[] = [];
    const disabled: string[] = [];
    const settled: string[] = [];
    let outcome: 'SENT' | 'WAITING' = 'WAITING';
    const driver = new HealthDriver({
      store,
      gate,
      notifications,
      webhooks,
      parked: {
        release: async (ntf) => {
          released.push(ntf);
          return outcome;
        },
        settleParked: async (ntf, reason) => void settled.push(`${ntf} ${reason}`),
      },
      scheduler: { startDriver: async () => {} },
      clock,
      settings,
      observer: { ...SILENT_HEALTH_OBSERVER, webhookDisabled: (wh) => void disabled.push(wh) },
    });
    let steps = 0;
    return {
      store,
      gate,
      webhooks,
      released,
      disabled,
      settled,
      at: (ms: number) => {
        nowMs = ms;
        gate.forget(id);
      },
      failProbes: () => {
        outcome = 'WAITING';
      },
      succeedProbes: () => {
        outcome = 'SENT';
      },
      step: () => driver.step({ webhookId: id, seq: 1, steps: steps++ }),
    };
  }

  it('sends nothing before the cool-down is over, then probes once and doubles the cool-down when the probe fails', async () => {
    const c = await openCircuit('wh_cool');

    c.at(t0 + settings.cooldownSeconds * 1000 - 1);
    const early = await c.step();
    expect(c.released).toEqual([]);
    expect(early.wakeAt).toBe(new Date(t0 + settings.cooldownSeconds * 1000).toISOString());

    const probeAt = t0 + settings.cooldownSeconds * 1000;
    c.at(probeAt);
    c.failProbes();
    const probed = await c.step();
    expect(c.released).toEqual(['ntf_wh_cool']);
    const after = await c.store.get('wh_cool');
    expect(after?.cooldownSeconds).toBe(2 * settings.cooldownSeconds);
    expect(after?.nextProbeAt).toBe(
      new Date(probeAt + 2 * settings.cooldownSeconds * 1000).toISOString(),
    );
    expect(probed.wakeAt).toBe(after?.nextProbeAt);
  });

  it('a successful probe closes the circuit with its cool-down reset', async () => {
    const c = await openCircuit('wh_heal');
    c.at(t0 + settings.cooldownSeconds * 1000);
    c.succeedProbes();

    await c.step();

    expect(c.released).toEqual(['ntf_wh_heal']);
    expect(await c.store.get('wh_heal')).toMatchObject({
      state: 'CLOSED',
      openedAt: null,
      cooldownSeconds: 0,
      nextProbeAt: null,
    });
  });

  it('a failure while HALF_OPEN opens it again with the doubled cool-down, keeping when the outage began', async () => {
    const store = new MemoryHealthStore();
    const now = new Date(t0 + HOUR);
    const { gate, started } = gateWith(store, () => now);
    const record = initialHealth('wh_half', new Date(t0));
    await store.transition(
      {
        ...record,
        state: 'HALF_OPEN',
        openedAt: new Date(t0).toISOString(),
        cooldownSeconds: 240,
      },
      record.version,
    );

    const opened = await gate.observe('wh_half', attempt('FAILED'));

    expect(opened).toMatchObject({
      state: 'OPEN',
      openedAt: new Date(t0).toISOString(),
      cooldownSeconds: 480,
      nextProbeAt: new Date(now.getTime() + 480_000).toISOString(),
    });
    expect(started).toHaveLength(1);
  });

  it('disables the webhook once its circuit has been open for 120 hours, not a moment before', async () => {
    expect(settings.autoDisableAfterHours).toBe(120);
    const c = await openCircuit('wh_auto', {
      nextProbeAt: new Date(t0 + 200 * HOUR).toISOString(),
    });

    c.at(t0 + 120 * HOUR - 1);
    await c.step();
    expect(c.disabled).toEqual([]);
    expect((await c.webhooks.get('wh_auto'))?.enabled).toBe(true);

    c.at(t0 + 120 * HOUR);
    await c.step();
    expect(c.disabled).toEqual(['wh_auto']);
    expect((await c.webhooks.get('wh_auto'))?.enabled).toBe(false);
    expect(await c.store.get('wh_auto')).toMatchObject({ autoDisabled: true });
    expect(c.released).toEqual([]);

    // What waits ends FAILED with WEBHOOK_DISABLED.
    await c.step();
    expect(c.settled).toEqual(['ntf_wh_auto WEBHOOK_DISABLED']);
  });

  it('sends nothing while the webhook is paused, and ends', async () => {
    const c = await openCircuit('wh_pause', { paused: true, nextProbeAt: null });
    c.at(t0 + HOUR);

    const step = await c.step();

    expect(c.released).toEqual([]);
    expect(step.done).toBe(true);
    expect((await c.store.get('wh_pause'))?.driverRunning).toBe(false);
  });
});
