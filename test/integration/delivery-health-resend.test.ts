/**
 * A manual resend meets destination health like any notification: to a paused webhook, or one
 * whose circuit is open, it sends nothing and waits parked with the reason (no attempt
 * consumed); released, it goes out as one manual attempt with nothing automatic after it, and
 * counts in its bulk resend job then. DynamoDB adapters against DynamoDB Local (the health
 * record and the pending-resend marker included), receivers on 127.0.0.1.
 */
import { DynamoHealthStore } from '../../lambdas/adapters/dynamo-health';
import { HealthGate } from '../../lambdas/core/health/gate';
import { DEFAULT_HEALTH_SETTINGS } from '../../lambdas/core/health/model';
import { type RetryStart, retryExecutionName } from '../../lambdas/core/retry-contract';
import type { HealthDriverInput } from '../../lambdas/ports';
import { subjectKeysFor } from '../support/api-harness';
import {
  createDeliveryHarness,
  type DeliveryHarness,
  definition,
  deliverJob,
  event,
} from '../support/delivery-harness';
import { always, ok, type Receiver, retryAfter, startReceiver } from '../support/receivers';
import { SILENT_HEALTH_OBSERVER } from '../support/silent-observers';
import { useStandIns } from '../support/standins';

/** A health gate without a cache (every decision reads the record as the test just wrote it). */
function uncachedGate(store: DynamoHealthStore, drivers: HealthDriverInput[]): HealthGate {
  return new HealthGate({
    store,
    scheduler: { startDriver: async (input) => void drivers.push(input) },
    clock: { now: () => new Date() },
    settings: { ...DEFAULT_HEALTH_SETTINGS, cacheTtlMs: 0 },
    observer: SILENT_HEALTH_OBSERVER,
  });
}

describe('manual resends and destination health', () => {
  const standIns = useStandIns();
  let harness: DeliveryHarness;
  let store: DynamoHealthStore;
  let gate: HealthGate;
  let receiver: Receiver;
  const drivers: HealthDriverInput[] = [];

  beforeAll(async () => {
    store = new DynamoHealthStore(standIns().clients.dynamo, standIns().tables.notifications);
    gate = uncachedGate(store, drivers);
    harness = createDeliveryHarness(standIns(), { health: gate });
    receiver = await startReceiver(ok());
  });
  afterAll(async () => {
    await harness?.close();
    await receiver?.close();
  });

  /** A webhook with one notification sent at its first attempt. */
  async function sentNotification() {
    receiver.setBehaviour(ok());
    const def = definition({ url: `${receiver.url}/r` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: def.id }));
    await harness.service.handleJob(job);
    expect((await harness.notifications.get(job.notificationId))?.status).toBe('SENT');
    return { def, id: job.notificationId };
  }

  async function setHealth(webhookId: string, change: Record<string, unknown>) {
    const current = (await store.get(webhookId)) ?? gate.initial(webhookId);
    expect(await store.transition({ ...current, ...change }, current.version)).toBe(true);
  }

  it('a resend to a paused webhook sends nothing and waits PAUSED; after resume it goes out as one manual attempt and counts in its job', async () => {
    const { def, id } = await sentNotification();
    await setHealth(def.id, { paused: true });
    await harness.resendJobs.create({
      jobId: 'job_pausedresend',
      count: 1,
      queued: 1,
      sent: 0,
      failed: 0,
      createdAt: new Date().toISOString(),
    });
    const before = receiver.requests.length;

    await harness.service.handleJob({
      kind: 'resend',
      notificationId: id,
      jobId: 'job_pausedresend',
    });

    expect(receiver.requests.length).toBe(before);
    const waiting = await harness.notifications.get(id);
    expect(waiting).toMatchObject({
      status: 'WAITING',
      waitingReason: 'PAUSED',
      nextAttemptAt: null,
      pendingResend: { jobId: 'job_pausedresend' },
    });
    expect(waiting?.attempts).toHaveLength(1);
    expect(await harness.notifications.listParked(def.id, 10)).toEqual([id]);
    expect(await harness.resendJobs.get('job_pausedresend')).toMatchObject({ sent: 0, failed: 0 });

    await setHealth(def.id, { paused: false });
    expect(await harness.service.release(id, { probe: false })).toBe('SENT');

    const sent = await harness.notifications.get(id);
    expect(sent?.status).toBe('SENT');
    expect(sent?.pendingResend ?? null).toBeNull();
    expect(sent?.attempts.map((a) => [a.trigger, a.outcome])).toEqual([
      ['initial', 'SENT'],
      ['manual', 'SENT'],
    ]);
    expect(receiver.requests.length).toBe(before + 1);
    expect(await harness.notifications.listParked(def.id, 10)).toEqual([]);
    expect(await harness.resendJobs.get('job_pausedresend')).toMatchObject({ sent: 1, failed: 0 });
  });

  it.each([
    { name: 'a bulk resend', ids: { jobId: 'job_parkedrepeat' } },
    { name: 'a resend of one notification', ids: { resendId: 'job_parkedsingle' } },
  ])(
    '$name parked at a paused webhook, released, then delivered again sends nothing more and counts once',
    async ({ ids }) => {
      const { def, id } = await sentNotification();
      await setHealth(def.id, { paused: true });
      if (ids.jobId)
        await harness.resendJobs.create({
          jobId: ids.jobId,
          count: 1,
          queued: 1,
          sent: 0,
          failed: 0,
          createdAt: new Date().toISOString(),
        });
      const job = { kind: 'resend' as const, notificationId: id, webhookId: def.id, ...ids };
      await harness.service.handleJob(job);
      await setHealth(def.id, { paused: false });
      expect(await harness.service.release(id, { probe: false })).toBe('SENT');
      const before = receiver.requests.length;

      // The same message again (SQS at least once; a Lambda that died before deleting it).
      await harness.service.handleJob(job);

      expect(receiver.requests.length).toBe(before);
      const n = await harness.notifications.get(id);
      expect(n?.attempts.map((a) => a.trigger)).toEqual(['initial', 'manual']);
      if (ids.jobId)
        expect(await harness.resendJobs.get(ids.jobId)).toMatchObject({ sent: 1, failed: 0 });
    },
  );

  it('a resend to a webhook whose circuit is open waits CIRCUIT_OPEN with its driver started; a failed release ends FAILED with no automatic retry', async () => {
    const { def, id } = await sentNotification();
    await setHealth(def.id, {
      state: 'OPEN',
      openedAt: new Date().toISOString(),
      nextProbeAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    const before = receiver.requests.length;
    const driversBefore = drivers.length;

    await harness.service.handleJob({ kind: 'resend', notificationId: id });

    expect(receiver.requests.length).toBe(before);
    expect(await harness.notifications.get(id)).toMatchObject({
      status: 'WAITING',
      waitingReason: 'CIRCUIT_OPEN',
      pendingResend: { jobId: null },
    });
    expect(drivers.slice(driversBefore).map((d) => d.webhookId)).toEqual([def.id]);

    // The receiver still fails; the circuit closed meanwhile (another notification's probe).
    receiver.setBehaviour(always(500, 'still broken'));
    await setHealth(def.id, { state: 'CLOSED', openedAt: null, nextProbeAt: null });
    const retriesBefore = harness.machine.starts.length;
    expect(await harness.service.release(id, { probe: false })).toBe('FAILED');

    const failed = await harness.notifications.get(id);
    expect(failed).toMatchObject({ status: 'FAILED', nextAttemptAt: null });
    expect(failed?.pendingResend ?? null).toBeNull();
    expect(failed?.attempts.at(-1)).toMatchObject({ trigger: 'manual', outcome: 'FAILED' });
    expect(harness.machine.starts.length).toBe(retriesBefore);
    expect(await harness.notifications.listParked(def.id, 10)).toEqual([]);
  });

  it.each([
    [429, '1200', 1200],
    [503, '1200', 1200],
    // Longer than the longest cool-down (30 min), or too large to make a date: 30 min.
    [429, '86400', DEFAULT_HEALTH_SETTINGS.maxCooldownSeconds],
    [503, '99999999999999999999', DEFAULT_HEALTH_SETTINGS.maxCooldownSeconds],
  ])(
    'a %i with Retry-After %s slows the whole webhook for %i s: the attempt is recorded, the next notification waits RATE_LIMITED, nothing sent',
    async (status, header, seconds) => {
      receiver.setBehaviour(retryAfter(header, status));
      const def = definition({ url: `${receiver.url}/slow-${status}-${header}` });
      await harness.webhooks.put(def);
      const first = deliverJob(def, event({ loanId: 'first' }));
      const sentAt = Date.now();
      await harness.service.handleJob(first);
      expect((await harness.notifications.get(first.notificationId))?.attempts).toHaveLength(1);
      const slowUntil = Date.parse((await store.get(def.id))?.slowUntil ?? '');
      expect(slowUntil).toBeGreaterThanOrEqual(sentAt + seconds * 1000);
      expect(slowUntil).toBeLessThanOrEqual(Date.now() + seconds * 1000);
      const before = receiver.requests.length;

      const second = deliverJob(def, event({ loanId: 'second' }));
      await harness.service.handleJob(second);

      expect(receiver.requests.length).toBe(before);
      expect(await harness.notifications.get(second.notificationId)).toMatchObject({
        status: 'WAITING',
        waitingReason: 'RATE_LIMITED',
        attempts: [],
      });
      expect(await harness.notifications.listParked(def.id, 10)).toContain(second.notificationId);
      // One driver for the webhook, whichever parked first (this one or the first's retry).
      expect(drivers.filter((d) => d.webhookId === def.id)).toHaveLength(1);
    },
  );

  it('a resend repeated after making sure of its driver failed keeps the notification parked, starts the driver, and counts nothing yet', async () => {
    const { def, id } = await sentNotification();
    await setHealth(def.id, {
      state: 'OPEN',
      openedAt: new Date().toISOString(),
      nextProbeAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    await harness.resendJobs.create({
      jobId: 'job_repeatedpark',
      count: 1,
      queued: 1,
      sent: 0,
      failed: 0,
      createdAt: new Date().toISOString(),
    });
    const job = { kind: 'resend' as const, notificationId: id, jobId: 'job_repeatedpark' };
    await harness.service.handleJob(job);
    expect(await harness.notifications.get(id)).toMatchObject({
      status: 'WAITING',
      waitingReason: 'CIRCUIT_OPEN',
      pendingResend: { jobId: 'job_repeatedpark' },
    });
    // The driver's start failed after the park: its slot was given back, the job came again.
    await setHealth(def.id, { driverRunning: false });
    const driversBefore = drivers.length;

    await harness.service.handleJob(job);

    expect(drivers.slice(driversBefore).map((d) => d.webhookId)).toEqual([def.id]);
    expect(await harness.notifications.get(id)).toMatchObject({
      status: 'WAITING',
      waitingReason: 'CIRCUIT_OPEN',
      pendingResend: { jobId: 'job_repeatedpark' },
    });
    expect(await harness.notifications.listParked(def.id, 10)).toEqual([id]);
    expect(await harness.resendJobs.get('job_repeatedpark')).toMatchObject({ sent: 0, failed: 0 });
  });

  it('a resend of a parked notification that fails once the circuit closed leaves it parked for its driver, not waiting on nothing', async () => {
    receiver.setBehaviour(ok());
    const def = definition({ url: `${receiver.url}/parked-resend` });
    await harness.webhooks.put(def);
    await setHealth(def.id, {
      state: 'OPEN',
      openedAt: new Date().toISOString(),
      nextProbeAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    const job = deliverJob(def, event({ loanId: 'parked' }));
    await harness.service.handleJob(job);
    const id = job.notificationId;
    expect(await harness.notifications.get(id)).toMatchObject({
      status: 'WAITING',
      waitingReason: 'CIRCUIT_OPEN',
      attempts: [],
    });
    // A probe closed the circuit; before the driver releases it, an operator resends it.
    receiver.setBehaviour(always(500, 'still broken'));
    await setHealth(def.id, { state: 'CLOSED', openedAt: null, nextProbeAt: null });

    await harness.service.handleJob({ kind: 'resend', notificationId: id });

    const after = await harness.notifications.get(id);
    expect(after).toMatchObject({
      status: 'WAITING',
      waitingReason: 'CIRCUIT_OPEN',
      nextAttemptAt: null,
    });
    expect(after?.attempts.map((a) => [a.trigger, a.outcome])).toEqual([['manual', 'FAILED']]);
    expect(await harness.notifications.listParked(def.id, 10)).toEqual([id]);
    // The driver still finds it and releases it: it goes out once the receiver is back.
    receiver.setBehaviour(ok());
    expect(await harness.service.release(id, { probe: false })).toBe('SENT');
  });

  it('a parked notification whose subject was erased meanwhile ends FAILED ERASED at its release, and the driver moves on', async () => {
    receiver.setBehaviour(ok());
    const def = definition({ url: `${receiver.url}/erased-parked` });
    await harness.webhooks.put(def);
    await setHealth(def.id, { paused: true });
    const subject = `client-${def.id}`;
    const job = deliverJob(def, { ...event({ loanId: 'erased' }), subject });
    await harness.service.handleJob(job);
    const id = job.notificationId;
    expect(await harness.notifications.get(id)).toMatchObject({
      status: 'WAITING',
      waitingReason: 'PAUSED',
    });
    await subjectKeysFor(standIns()).erase(subject, 'test', new Date());
    await setHealth(def.id, { paused: false });
    const before = receiver.requests.length;

    expect(await harness.service.release(id, { probe: false })).toBe('FAILED');

    expect(await harness.notifications.get(id)).toMatchObject({
      status: 'FAILED',
      failureReason: 'ERASED',
      attempts: [],
    });
    expect(await harness.notifications.listParked(def.id, 10)).toEqual([]);
    expect(receiver.requests.length).toBe(before);
  });

  it('a bulk resend parked at a paused webhook whose subject is erased before the release counts once, as erased', async () => {
    receiver.setBehaviour(ok());
    const def = definition({ url: `${receiver.url}/erased-resend` });
    await harness.webhooks.put(def);
    const subject = `client-resend-${def.id}`;
    const job = deliverJob(def, { ...event({ loanId: 'erased-resend' }), subject });
    await harness.service.handleJob(job);
    const id = job.notificationId;
    expect((await harness.notifications.get(id))?.status).toBe('SENT');
    await setHealth(def.id, { paused: true });
    const jobId = `job_erasedresend${def.id.slice(-6)}`;
    await harness.resendJobs.create({
      jobId,
      count: 1,
      queued: 1,
      sent: 0,
      failed: 0,
      createdAt: new Date().toISOString(),
    });
    await harness.service.handleJob({ kind: 'resend', notificationId: id, jobId });
    expect(await harness.notifications.get(id)).toMatchObject({
      status: 'WAITING',
      pendingResend: { jobId },
    });
    await subjectKeysFor(standIns()).erase(subject, 'test', new Date());
    await setHealth(def.id, { paused: false });

    expect(await harness.service.release(id, { probe: false })).toBe('FAILED');

    expect(await harness.notifications.get(id)).toMatchObject({
      status: 'FAILED',
      failureReason: 'ERASED',
    });
    // One notification in the job: counted once, where an erased one belongs.
    expect(await harness.resendJobs.get(jobId)).toMatchObject({
      count: 1,
      sent: 0,
      failed: 0,
      erased: 1,
    });
  });

  it('a first attempt that fails after its webhook was paused meanwhile waits PAUSED, with no retry scheduled', async () => {
    const def = definition({ url: `${receiver.url}/paused-in-flight` });
    await harness.webhooks.put(def);
    // The operator pauses while the request is in flight; the receiver then fails it.
    receiver.setBehaviour(async () => {
      await setHealth(def.id, { paused: true });
      return { status: 500, body: 'down' };
    });
    const job = deliverJob(def, event({ loanId: def.id }));
    const retriesBefore = harness.machine.starts.length;

    await harness.service.handleJob(job);

    expect(await harness.notifications.get(job.notificationId)).toMatchObject({
      status: 'WAITING',
      waitingReason: 'PAUSED',
      nextAttemptAt: null,
      attempts: [expect.objectContaining({ outcome: 'FAILED', statusCode: 500 })],
    });
    expect(harness.machine.starts.length).toBe(retriesBefore);
    expect(await harness.notifications.listParked(def.id, 10)).toEqual([job.notificationId]);
  });

  it('a resend to a healthy webhook goes out at once, as before', async () => {
    const { id } = await sentNotification();
    const before = receiver.requests.length;

    await harness.service.handleJob({ kind: 'resend', notificationId: id });

    expect(receiver.requests.length).toBe(before + 1);
    expect((await harness.notifications.get(id))?.attempts.at(-1)).toMatchObject({
      trigger: 'manual',
      outcome: 'SENT',
    });
  });
});

describe('a retry parked by its webhook and released', () => {
  const standIns = useStandIns();
  const drivers: HealthDriverInput[] = [];
  const starts: RetryStart[] = [];
  let harness: DeliveryHarness;
  let store: DynamoHealthStore;
  let receiver: Receiver;

  beforeAll(async () => {
    store = new DynamoHealthStore(standIns().clients.dynamo, standIns().tables.notifications);
    // Executions are not run: the test invokes the attempt handler as each would.
    harness = createDeliveryHarness(standIns(), {
      health: uncachedGate(store, drivers),
      scheduler: { start: async (input) => void starts.push(input) },
    });
    receiver = await startReceiver(always(500));
  });
  afterAll(async () => {
    await harness?.close();
    await receiver?.close();
  });

  it('parked during retry 2, the release makes retry 2 and starts retry 3 under a name no execution had', async () => {
    const def = definition({ url: `${receiver.url}/parked-retry` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-parked-retry' }));
    const id = job.notificationId;
    await harness.service.handleJob(job);
    await harness.attempt({ action: 'retry', notificationId: id, retry: 1 });
    // The circuit opens before retry 2's execution wakes up: it parks without an attempt.
    const health = await store.get(def.id);
    expect(
      await store.transition(
        { ...health!, state: 'OPEN', openedAt: new Date().toISOString(), nextProbeAt: null },
        health!.version,
      ),
    ).toBe(true);
    const retry2 = { action: 'retry', notificationId: id, retry: 2 } as const;
    expect(await harness.attempt(retry2)).toMatchObject({ done: true });
    expect(await harness.notifications.get(id)).toMatchObject({
      status: 'WAITING',
      waitingReason: 'CIRCUIT_OPEN',
      nextAttemptAt: null,
    });
    expect(starts.map((s) => [s.retry, s.after])).toEqual([
      [1, 1],
      [2, 2],
    ]);

    // Closed again (a probe succeeded); the receiver still fails: the release is retry 2.
    const open = await store.get(def.id);
    expect(
      await store.transition({ ...open!, state: 'CLOSED', openedAt: null }, open!.version),
    ).toBe(true);
    expect(await harness.service.release(id, { probe: false })).toBe('WAITING');

    const released = (await harness.notifications.get(id))!;
    expect(released.attempts.map((a) => [a.number, a.trigger])).toEqual([
      [1, 'initial'],
      [2, 'retry'],
      [3, 'retry'],
    ]);
    // Waiting for its next retry, no longer parked.
    expect(released.status).toBe('WAITING');
    expect(released.waitingReason ?? null).toBeNull();
    expect(await harness.notifications.listParked(def.id, 10)).toEqual([]);
    const retry3 = {
      notificationId: id,
      retry: 3,
      nextAttemptAt: released.nextAttemptAt,
      after: 3,
    };
    expect(starts.at(-1)).toEqual(retry3);
    // The parked execution's task run again finds retry 2 recorded: it sends nothing and asks
    // for retry 3 again, identically (the same execution).
    await harness.attempt(retry2);
    expect(starts.slice(2)).toEqual([retry3, retry3]);
    expect((await harness.notifications.get(id))!.attempts).toHaveLength(3);
    expect(new Set(starts.map((s) => retryExecutionName(s))).size).toBe(3);
  });
});
