import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMES } from '../../lambdas/config';
import { watchDrivers } from '../../lambdas/core/health/driver-watch';
import { DEFAULT_HEALTH_SETTINGS, initialHealth } from '../../lambdas/core/health/model';
import type { Attempt, Notification } from '../../lambdas/core/model';
import { type RetryStart, retryExecutionName } from '../../lambdas/core/retry-contract';
import { nextRetryStart, seriesEndStart } from '../../lambdas/core/retry-series';
import {
  isOverdueRetry,
  RetrySweeper,
  sweepSlot,
  sweepStartOf,
} from '../../lambdas/core/retry-sweep';
import { createSweeperHandler } from '../../lambdas/handlers/sweeper';
import type { RetryScheduler } from '../../lambdas/ports';
import { MemoryNotificationStore } from '../support/memory-stores';

const MINUTE = 60_000;
const SLOT_MS = 15 * MINUTE;
const GRACE_MS = 30 * MINUTE;
const NOW = new Date('2026-12-03T12:07:30.000Z');

function attempt(
  number: number,
  trigger: Attempt['trigger'],
  startedAt = '2026-12-03T10:00:00.000Z',
): Attempt {
  return {
    number,
    trigger,
    startedAt,
    durationMs: 12,
    statusCode: 500,
    outcome: 'FAILED',
    error: 'INVALID_HTTP_RESPONSE',
    responseBody: null,
  };
}

let seq = 0;
function notification(overrides: Partial<Notification> = {}): Notification {
  seq++;
  return {
    id: `ntf_sweep${String(seq).padStart(4, '0')}`,
    webhookId: 'wh_sweep',
    eventId: `evt_${seq}`,
    eventType: 'LOAN_DISBURSEMENT',
    createdAt: new Date(NOW.getTime() - 3 * 3_600_000 + seq).toISOString(),
    status: 'WAITING',
    failureReason: 'INVALID_HTTP_RESPONSE',
    attempts: [attempt(1, 'initial')],
    nextAttemptAt: new Date(NOW.getTime() - GRACE_MS - MINUTE).toISOString(),
    ...overrides,
  };
}

function recordingScheduler(fail?: (start: RetryStart) => Error | undefined) {
  const starts: RetryStart[] = [];
  const names = new Set<string>();
  const scheduler: RetryScheduler = {
    async start(input) {
      const error = fail?.(input);
      if (error) throw error;
      starts.push(input);
      names.add(retryExecutionName(input));
    },
  };
  return { scheduler, starts, names };
}

async function storeWith(...items: Notification[]) {
  const store = new MemoryNotificationStore();
  for (const n of items) await store.create(n, 0);
  return store;
}

function sweeperOver(
  store: MemoryNotificationStore,
  scheduler: RetryScheduler,
  maxStarts = 300,
): RetrySweeper {
  return new RetrySweeper({
    notifications: store,
    scheduler,
    settings: { graceMs: GRACE_MS, maxStarts, slotMs: SLOT_MS },
  });
}

describe('sweep slots and names', () => {
  it('numbers slots by whole intervals since the epoch: one per 15 minutes', () => {
    const slot = sweepSlot(new Date('2026-12-03T12:00:00.000Z'), SLOT_MS);
    expect(slot).toBe(Date.parse('2026-12-03T12:00:00.000Z') / SLOT_MS);
    expect(sweepSlot(new Date('2026-12-03T12:14:59.999Z'), SLOT_MS)).toBe(slot);
    expect(sweepSlot(new Date('2026-12-03T12:15:00.000Z'), SLOT_MS)).toBe(slot + 1);
  });

  it("names a replacement after the retry's usual name plus its slot, within Step Functions' 80 characters", () => {
    const start = { notificationId: 'ntf_2Zb7Yq3kR9mXw1aPc6dEf8gHj0', retry: 5, after: 12 };
    expect(retryExecutionName(start)).toBe('retry-ntf_2Zb7Yq3kR9mXw1aPc6dEf8gHj0-5-12');
    const swept = retryExecutionName({ ...start, sweepSlot: 1_974_312 });
    expect(swept).toBe('retry-ntf_2Zb7Yq3kR9mXw1aPc6dEf8gHj0-5-12-s1974312');
    expect(swept).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    // Another slot, another name; the same slot, the same name.
    expect(retryExecutionName({ ...start, sweepSlot: 1_974_313 })).not.toBe(swept);
    expect(retryExecutionName({ ...start, sweepSlot: 1_974_312 })).toBe(swept);
  });
});

describe('which notifications a sweep restarts', () => {
  const dueBefore = new Date(NOW.getTime() - GRACE_MS).toISOString();

  it.each([
    ['WAITING for a retry due before the grace', {}, true],
    [
      'due within the grace',
      { nextAttemptAt: new Date(NOW.getTime() - MINUTE).toISOString() },
      false,
    ],
    ['due in the future', { nextAttemptAt: new Date(NOW.getTime() + MINUTE).toISOString() }, false],
    ['parked (circuit open)', { waitingReason: 'CIRCUIT_OPEN' as const }, false],
    ['parked (paused)', { waitingReason: 'PAUSED' as const }, false],
    ['parked (rate limited)', { waitingReason: 'RATE_LIMITED' as const }, false],
    ['after its last retry (no next attempt)', { nextAttemptAt: null }, false],
    ['SENT', { status: 'SENT' as const }, false],
    ['FAILED', { status: 'FAILED' as const }, false],
  ])('%s: %s', (_label, overrides, expected) => {
    expect(isOverdueRetry(notification(overrides), dueBefore)).toBe(expected);
  });

  it('restarts the retry the record calls for, as the attempt Lambda builds it, due at its nextAttemptAt', async () => {
    const n = notification({
      attempts: [attempt(1, 'initial'), attempt(2, 'retry'), attempt(3, 'manual')],
    });
    const { scheduler, starts } = recordingScheduler();
    const result = await sweeperOver(await storeWith(n), scheduler).sweep(NOW);

    const slot = sweepSlot(NOW, SLOT_MS);
    expect(result).toMatchObject({ slot, found: 1, started: 1, skipped: 0, errors: [] });
    // Retry 2, scheduled by attempt 2 (the manual resend schedules nothing).
    expect(starts).toEqual([{ ...nextRetryStart(n)!, sweepSlot: slot }]);
    expect(starts[0]).toEqual({
      notificationId: n.id,
      retry: 2,
      nextAttemptAt: n.nextAttemptAt,
      after: 2,
      sweepSlot: slot,
    });
  });

  it('leaves parked, future and settled notifications alone', async () => {
    const store = await storeWith(
      notification({ waitingReason: 'CIRCUIT_OPEN' }),
      notification({ waitingReason: 'PAUSED' }),
      notification({ nextAttemptAt: new Date(NOW.getTime() + MINUTE).toISOString() }),
      notification({ nextAttemptAt: new Date(NOW.getTime() - GRACE_MS + 1).toISOString() }),
      notification({ status: 'FAILED', nextAttemptAt: null }),
    );
    const { scheduler, starts } = recordingScheduler();
    expect(await sweeperOver(store, scheduler).sweep(NOW)).toMatchObject({ found: 0, started: 0 });
    expect(starts).toEqual([]);
  });

  it('reads the record before starting: one settled since the index showed it is skipped', async () => {
    const n = notification();
    const store = await storeWith(n);
    const stale = {
      listOverdueRetries: store.listOverdueRetries.bind(store),
      get: async (id: string) => ({ ...(await store.get(id))!, status: 'SENT' as const }),
    };
    const { scheduler, starts } = recordingScheduler();
    const sweeper = new RetrySweeper({
      notifications: stale,
      scheduler,
      settings: { graceMs: GRACE_MS, maxStarts: 10, slotMs: SLOT_MS },
    });
    expect(await sweeper.sweep(NOW)).toMatchObject({ found: 1, started: 0, skipped: 1 });
    expect(starts).toEqual([]);
  });

  it('starts at most maxStarts a sweep, oldest first; the next sweep takes the rest', async () => {
    const items = Array.from({ length: 5 }, () => notification());
    const store = await storeWith(...items);
    const { scheduler, starts } = recordingScheduler();
    expect(await sweeperOver(store, scheduler, 3).sweep(NOW)).toMatchObject({
      found: 3,
      started: 3,
    });
    expect(starts.map((s) => s.notificationId)).toEqual(items.slice(0, 3).map((n) => n.id));
  });

  it('goes on after a failed start and reports it', async () => {
    const [a, b] = [notification(), notification()];
    const { scheduler, starts } = recordingScheduler((s) =>
      s.notificationId === a.id ? new Error('ThrottlingException') : undefined,
    );
    const result = await sweeperOver(await storeWith(a, b), scheduler).sweep(NOW);
    expect(result).toMatchObject({ found: 2, started: 1 });
    expect(result.errors.map((e) => e.notificationId)).toEqual([a.id]);
    expect(starts.map((s) => s.notificationId)).toEqual([b.id]);
  });
});

describe('the end of a series left open (last retry recorded, never marked FAILED)', () => {
  const dueBefore = new Date(NOW.getTime() - GRACE_MS).toISOString();
  const LAST_RETRY_AT = '2026-12-03T11:00:00.000Z';
  /** The initial attempt and five retries, the last started at `lastAt`; WAITING for nothing. */
  const openEnd = (lastAt = LAST_RETRY_AT, extra: Attempt[] = []) =>
    notification({
      nextAttemptAt: null,
      attempts: [
        attempt(1, 'initial'),
        ...[2, 3, 4, 5].map((k) => attempt(k, 'retry')),
        attempt(6, 'retry', lastAt),
        ...extra,
      ],
    });

  it("is the last retry's execution again, due at that retry's start, after the attempt that scheduled it", () => {
    const n = openEnd();
    expect(seriesEndStart(n)).toEqual({
      notificationId: n.id,
      retry: 5,
      nextAttemptAt: LAST_RETRY_AT,
      after: 5,
    });
    // A manual resend after it changes neither the retry nor the attempt that scheduled it.
    const resent = openEnd(LAST_RETRY_AT, [attempt(7, 'manual', '2026-12-03T11:05:00.000Z')]);
    expect(seriesEndStart(resent)).toMatchObject({
      retry: 5,
      after: 5,
      nextAttemptAt: LAST_RETRY_AT,
    });
  });

  it.each([
    [
      'waiting for retry 5 (four retries recorded)',
      { attempts: [attempt(1, 'initial'), ...[2, 3, 4, 5].map((k) => attempt(k, 'retry'))] },
    ],
    ['waiting for a next attempt', { nextAttemptAt: '2026-12-03T11:00:00.000Z' }],
    ['parked', { waitingReason: 'CIRCUIT_OPEN' as const }],
    ['FAILED already', { status: 'FAILED' as const }],
    ['SENT', { status: 'SENT' as const }],
  ])('is none for a record %s', (_label, overrides) => {
    const n = { ...openEnd(), ...overrides };
    expect(seriesEndStart(n)).toBeUndefined();
    // The sweep treats it as any other record: only an overdue retry is started.
    expect(sweepStartOf(n, dueBefore)).toEqual(
      isOverdueRetry(n, dueBefore) ? nextRetryStart(n) : undefined,
    );
  });

  it('is swept once its last retry started longer ago than the grace, not before', () => {
    const stuck = openEnd();
    expect(sweepStartOf(stuck, dueBefore)).toEqual(seriesEndStart(stuck));
    const recent = openEnd(new Date(NOW.getTime() - MINUTE).toISOString());
    expect(sweepStartOf(recent, dueBefore)).toBeUndefined();
  });

  it('a sweep starts it (named after its slot) and leaves a recent one for a later sweep', async () => {
    const stuck = openEnd();
    const recent = openEnd(new Date(NOW.getTime() - MINUTE).toISOString());
    const { scheduler, starts } = recordingScheduler();
    const result = await sweeperOver(await storeWith(stuck, recent), scheduler).sweep(NOW);
    const slot = sweepSlot(NOW, SLOT_MS);
    // Both are candidates (the index shows no attempt times); the record decides.
    expect(result).toMatchObject({ found: 2, started: 1, skipped: 1, errors: [] });
    expect(starts).toEqual([{ ...seriesEndStart(stuck)!, sweepSlot: slot }]);
  });
});

describe('the sweeper handler', () => {
  const silentMetrics = () => {
    const metrics = new Metrics({ namespace: 'Webhooks', serviceName: 'webhooks-test' });
    const added: [string, number][] = [];
    jest.spyOn(metrics, 'addMetric').mockImplementation((name, _unit, value) => {
      added.push([name, value]);
      return metrics;
    });
    jest.spyOn(metrics, 'hasStoredMetrics').mockReturnValue(false);
    return { metrics, added };
  };
  const logger = { info: () => {}, error: () => {} };

  it("sweeps at the schedule event's time (a redelivery sweeps the same slot) and counts what it started", async () => {
    const at: Date[] = [];
    const { metrics, added } = silentMetrics();
    const handler = createSweeperHandler({
      sweeper: {
        sweep: async (when) => {
          at.push(when);
          return { slot: 7, found: 2, started: 2, skipped: 0, errors: [] };
        },
      },
      clock: { now: () => NOW },
      metrics,
      logger,
    });
    expect(await handler({ time: '2026-12-03T12:15:00Z' })).toEqual({
      slot: 7,
      found: 2,
      started: 2,
      skipped: 0,
      errors: 0,
      driversRestarted: 0,
    });
    await handler({});
    expect(at).toEqual([new Date('2026-12-03T12:15:00Z'), NOW]);
    expect(added).toEqual([
      [METRIC_NAMES.retriesSwept, 2],
      [METRIC_NAMES.retriesSwept, 2],
    ]);
  });

  it('writes the waiting gauge per reason, with its Reason dimension, 0 included', async () => {
    const { metrics } = silentMetrics();
    const lines: { dimensions: Record<string, string>; name: string; value: number }[] = [];
    jest.spyOn(metrics, 'singleMetric').mockImplementation(() => {
      const dimensions: Record<string, string> = {};
      const single = {
        addDimension: (name: string, value: string) => {
          dimensions[name] = value;
          return single;
        },
        addMetric: (name: string, _unit: unknown, value: number) => {
          lines.push({ dimensions: { ...dimensions }, name, value });
          return single;
        },
      };
      return single as unknown as Metrics;
    });
    const handler = createSweeperHandler({
      sweeper: {
        sweep: async () => ({
          slot: 7,
          found: 0,
          started: 0,
          skipped: 0,
          errors: [],
          drivers: {
            checked: 2,
            restarted: [],
            errors: [],
            openCircuits: 1,
            waiting: { CIRCUIT_OPEN: 4, PAUSED: 0, RATE_LIMITED: 1 },
          },
        }),
      },
      clock: { now: () => NOW },
      metrics,
      logger,
    });
    await handler({});
    expect(lines).toEqual([
      { dimensions: { Reason: 'CIRCUIT_OPEN' }, name: METRIC_NAMES.waitingNotifications, value: 4 },
      { dimensions: { Reason: 'PAUSED' }, name: METRIC_NAMES.waitingNotifications, value: 0 },
      { dimensions: { Reason: 'RATE_LIMITED' }, name: METRIC_NAMES.waitingNotifications, value: 1 },
    ]);
  });

  it('writes the gauge of open circuits the driver watch read, 0 included, and none when it could not read them all', async () => {
    const { metrics, added } = silentMetrics();
    const drivers: { openCircuits?: number }[] = [{ openCircuits: 2 }, { openCircuits: 0 }, {}];
    const handler = createSweeperHandler({
      sweeper: {
        sweep: async () => ({
          slot: 7,
          found: 0,
          started: 0,
          skipped: 0,
          errors: [],
          drivers: { checked: 3, restarted: [], errors: [], ...drivers.shift() },
        }),
      },
      clock: { now: () => NOW },
      metrics,
      logger,
    });
    for (let i = 0; i < 3; i++) await handler({});
    expect(added.filter(([name]) => name === METRIC_NAMES.openCircuits)).toEqual([
      [METRIC_NAMES.openCircuits, 2],
      [METRIC_NAMES.openCircuits, 0],
    ]);
  });

  it('fails the invocation when a start failed, so the same event is tried again', async () => {
    const { metrics, added } = silentMetrics();
    const handler = createSweeperHandler({
      sweeper: {
        sweep: async () => ({
          slot: 7,
          found: 2,
          started: 1,
          skipped: 0,
          errors: [{ notificationId: 'ntf_x', error: new Error('ThrottlingException') }],
        }),
      },
      clock: { now: () => NOW },
      metrics,
      logger,
    });
    await expect(handler({ time: '2026-12-03T12:15:00Z' })).rejects.toThrow(
      /1 retries could not be restarted/,
    );
    expect(added).toEqual([[METRIC_NAMES.retriesSwept, 1]]);
  });
});

describe('the driver watch', () => {
  const at = new Date('2026-12-03T12:00:00Z');
  const record = (webhookId: string, beatMsAgo: number | null, running = true) => ({
    ...initialHealth(webhookId, at),
    driverSeq: 2,
    driverRunning: running,
    driverBeatAt: beatMsAgo === null ? null : new Date(at.getTime() - beatMsAgo).toISOString(),
  });

  it('makes sure of the driver of each webhook whose running driver stopped beating for the lease, no other', async () => {
    const lease = DEFAULT_HEALTH_SETTINGS.driverLeaseMs;
    const records = new Map([
      ['wh_dead', record('wh_dead', lease)],
      ['wh_beating', record('wh_beating', lease - 1000)],
      ['wh_idle', record('wh_idle', lease * 10, false)],
      ['wh_unbeaten', record('wh_unbeaten', null)],
    ]);
    const ensured: string[] = [];
    const result = await watchDrivers({
      webhookIds: async () => [...records.keys(), 'wh_norecord', 'wh_broken'],
      store: {
        get: async (id) => {
          if (id === 'wh_broken') throw new Error('throttled');
          return records.get(id);
        },
      },
      gate: { ensureDriver: async (id) => void ensured.push(id) },
      clock: { now: () => at },
      settings: DEFAULT_HEALTH_SETTINGS,
    });
    expect(ensured).toEqual(['wh_dead']);
    expect(result.restarted).toEqual(['wh_dead']);
    expect(result.checked).toBe(6);
    expect(result.errors.map((e) => e.webhookId)).toEqual(['wh_broken']);
    // A record it could not read: no gauge rather than a count that misses it.
    expect(result.openCircuits).toBeUndefined();
  });

  it('counts the circuits open or half-open of webhooks in service, as the records say now', async () => {
    const records = new Map([
      ['wh_open', { ...record('wh_open', 0), state: 'OPEN' as const }],
      ['wh_half', { ...record('wh_half', 0), state: 'HALF_OPEN' as const }],
      ['wh_paused_open', { ...record('wh_paused_open', 0), state: 'OPEN' as const, paused: true }],
      ['wh_closed', record('wh_closed', 0)],
      ['wh_auto', { ...record('wh_auto', 0), state: 'OPEN' as const, autoDisabled: true }],
      [
        'wh_deleted',
        { ...record('wh_deleted', 0), state: 'OPEN' as const, disabledAt: at.toISOString() },
      ],
    ]);
    const result = await watchDrivers({
      webhookIds: async () => [...records.keys(), 'wh_norecord'],
      store: { get: async (id) => records.get(id) },
      gate: { ensureDriver: async () => {} },
      clock: { now: () => at },
      settings: DEFAULT_HEALTH_SETTINGS,
    });
    expect(result.openCircuits).toBe(3);
    // Without a count of what waits, no waiting gauge.
    expect(result.waiting).toBeUndefined();
  });

  it('sums what waits parked per reason over the webhooks whose record says something may wait, and gives no sum when a count failed', async () => {
    const records = new Map([
      ['wh_open', { ...record('wh_open', 0), state: 'OPEN' as const }],
      ['wh_paused', { ...record('wh_paused', 0, false), paused: true }],
      ['wh_limited', record('wh_limited', 0)],
      ['wh_quiet', record('wh_quiet', 0, false)],
    ]);
    const counts: Record<string, { CIRCUIT_OPEN: number; PAUSED: number; RATE_LIMITED: number }> = {
      wh_open: { CIRCUIT_OPEN: 5, PAUSED: 0, RATE_LIMITED: 0 },
      wh_paused: { CIRCUIT_OPEN: 0, PAUSED: 7, RATE_LIMITED: 0 },
      wh_limited: { CIRCUIT_OPEN: 0, PAUSED: 0, RATE_LIMITED: 2 },
      // Never asked: a closed circuit, no pause and no driver hold nothing parked.
      wh_quiet: { CIRCUIT_OPEN: 100, PAUSED: 100, RATE_LIMITED: 100 },
    };
    const asked: string[] = [];
    const watch = (failOn?: string) =>
      watchDrivers({
        webhookIds: async () => [...records.keys()],
        store: { get: async (id) => records.get(id) },
        gate: { ensureDriver: async () => {} },
        clock: { now: () => at },
        settings: DEFAULT_HEALTH_SETTINGS,
        countParked: async (id) => {
          asked.push(id);
          if (id === failOn) throw new Error('throttled');
          return counts[id]!;
        },
      });
    const result = await watch();
    expect(result.waiting).toEqual({ CIRCUIT_OPEN: 5, PAUSED: 7, RATE_LIMITED: 2 });
    expect(asked.sort()).toEqual(['wh_limited', 'wh_open', 'wh_paused']);
    const failed = await watch('wh_paused');
    expect(failed.waiting).toBeUndefined();
    expect(failed.openCircuits).toBeUndefined();
  });
});
