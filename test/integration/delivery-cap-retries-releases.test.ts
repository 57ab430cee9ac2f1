/**
 * The per-webhook concurrency cap (`maxConcurrency`) holds for every request to the receiver,
 * not only first attempts: automatic retries and the health driver's releases of waiting
 * notifications pass it too. DynamoDB Local (leases, health record, notifications), fauxqs,
 * receivers on 127.0.0.1 that count the requests they hold at once.
 */
import { DynamoHealthStore } from '../../lambdas/adapters/dynamo-health';
import { DynamoConcurrencyLeases } from '../../lambdas/adapters/dynamo-leases';
import { ConcurrencyGate } from '../../lambdas/core/concurrency-gate';
import { HealthDriver } from '../../lambdas/core/health/driver';
import { HealthGate } from '../../lambdas/core/health/gate';
import { DEFAULT_HEALTH_SETTINGS } from '../../lambdas/core/health/model';
import type { HealthDriverInput } from '../../lambdas/ports';
import { drainQueue } from '../support/api-harness';
import {
  createDeliveryHarness,
  type DeliveryHarness,
  definition,
  deliverJob,
  event,
} from '../support/delivery-harness';
import { type Behaviour, heldReplies, type Receiver, startReceiver } from '../support/receivers';
import { SILENT_HEALTH_OBSERVER } from '../support/silent-observers';
import { useStandIns } from '../support/standins';

/** Answers 200 after `holdMs`, counting the requests it holds at once. */
function countingReplies(holdMs: number): { behaviour: Behaviour; maxInFlight(): number } {
  let inFlight = 0;
  let max = 0;
  return {
    behaviour: async () => {
      inFlight++;
      max = Math.max(max, inFlight);
      await new Promise((resolve) => setTimeout(resolve, holdMs));
      inFlight--;
      return { status: 200, body: 'ok' };
    },
    maxInFlight: () => max,
  };
}

describe('the concurrency cap and requests other than first attempts', () => {
  const standIns = useStandIns();
  const drivers: HealthDriverInput[] = [];
  let harness: DeliveryHarness;
  let store: DynamoHealthStore;
  let health: HealthGate;
  let receiver: Receiver;
  let releaseHeld: () => void = () => undefined;

  beforeAll(async () => {
    const { dynamo } = standIns().clients;
    store = new DynamoHealthStore(dynamo, standIns().tables.notifications);
    health = new HealthGate({
      store,
      scheduler: { startDriver: async (input) => void drivers.push(input) },
      clock: { now: () => new Date() },
      settings: { ...DEFAULT_HEALTH_SETTINGS, cacheTtlMs: 0 },
      observer: SILENT_HEALTH_OBSERVER,
    });
    harness = createDeliveryHarness(standIns(), {
      health,
      gate: new ConcurrencyGate(
        new DynamoConcurrencyLeases(dynamo, standIns().tables.notifications),
      ),
      // Retries are invoked by the test as their executions would.
      scheduler: { start: async () => undefined },
    });
    receiver = await startReceiver(countingReplies(0).behaviour);
  });
  afterAll(async () => {
    releaseHeld();
    await harness?.close();
    await receiver?.close();
  });
  afterEach(async () => {
    await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0);
  });

  async function setHealth(webhookId: string, change: Record<string, unknown>) {
    const current = (await store.get(webhookId)) ?? health.initial(webhookId);
    expect(await store.transition({ ...current, ...change }, current.version)).toBe(true);
  }

  it("a resumed webhook's driver sends what waited at most maxConcurrency at a time, and all of it", async () => {
    const def = definition({ url: `${receiver.url}/resumed`, maxConcurrency: 2 });
    await harness.webhooks.put(def);
    // Eight notifications whose first attempt failed (after five the circuit opened and the
    // rest waited without one); paused before their retries came due, the retries wait PAUSED.
    receiver.setBehaviour(() => ({ status: 500, body: 'down' }));
    const jobs = Array.from({ length: 8 }, (_, i) => deliverJob(def, event({ loanId: `R-${i}` })));
    for (const job of jobs) await harness.service.handleJob(job);
    await setHealth(def.id, { paused: true });
    for (const job of jobs)
      await harness.attempt({ action: 'retry', notificationId: job.notificationId, retry: 1 });
    expect(await harness.notifications.listParked(def.id, 100)).toHaveLength(8);

    // Resume: the pause lifted, the driver runs its steps until nothing waits.
    const counting = countingReplies(300);
    receiver.setBehaviour(counting.behaviour);
    await setHealth(def.id, {
      paused: false,
      state: 'CLOSED',
      consecutiveFailures: 0,
      openedAt: null,
      nextProbeAt: null,
    });
    await health.ensureDriver(def.id);
    const driver = new HealthDriver({
      store,
      gate: health,
      notifications: harness.notifications,
      webhooks: harness.webhooks,
      parked: harness.service,
      scheduler: { startDriver: async () => {} },
      clock: { now: () => new Date() },
      settings: { ...DEFAULT_HEALTH_SETTINGS, cacheTtlMs: 0, endGraceMs: 0 },
      observer: SILENT_HEALTH_OBSERVER,
    });
    const seq = (await store.get(def.id))!.driverSeq;
    for (let steps = 0; steps < 50; steps++) {
      const out = await driver.step({ webhookId: def.id, seq, steps });
      if (out.done) break;
      const wait = Date.parse(out.wakeAt) - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }

    expect(counting.maxInFlight()).toBeLessThanOrEqual(2);
    for (const job of jobs) {
      const n = await harness.notifications.get(job.notificationId);
      expect(n?.status).toBe('SENT');
      // One request each since the resume (a notification delivered after the circuit opened
      // waited without an attempt, the others after their failed first one).
      expect(n?.attempts.filter((x) => x.outcome === 'SENT')).toHaveLength(1);
      expect(n?.attempts.at(-1)?.outcome).toBe('SENT');
    }
  });

  it('a retry whose webhook is at its cap sends nothing and waits RATE_LIMITED without using an attempt; released, it is that retry', async () => {
    const def = definition({ url: `${receiver.url}/retry-capped`, maxConcurrency: 1 });
    await harness.webhooks.put(def);
    // A's first attempt fails: its retry 1 is due.
    receiver.setBehaviour(() => ({ status: 500, body: 'down' }));
    const a = deliverJob(def, event({ loanId: 'A' }));
    await harness.service.handleJob(a);
    expect((await harness.notifications.get(a.notificationId))?.attempts).toHaveLength(1);
    // B's first attempt holds the webhook's one slot.
    const held = heldReplies();
    releaseHeld = held.release;
    receiver.setBehaviour(held.behaviour);
    const b = deliverJob(def, event({ loanId: 'B' }));
    const bDone = harness.service.handleJob(b);
    await held.arrived;
    const before = receiver.requests.length;

    const out = await harness.attempt({
      action: 'retry',
      notificationId: a.notificationId,
      retry: 1,
    });

    // Nothing sent to the receiver while B holds its one slot.
    expect(receiver.requests.length).toBe(before);
    expect(out).toMatchObject({ done: true });
    const parked = await harness.notifications.get(a.notificationId);
    expect(parked).toMatchObject({ status: 'WAITING', waitingReason: 'RATE_LIMITED' });
    expect(parked?.attempts).toHaveLength(1);
    expect(drivers.map((d) => d.webhookId)).toContain(def.id);

    releaseHeld();
    await bDone;
    receiver.setBehaviour(countingReplies(0).behaviour);
    expect(await harness.service.release(a.notificationId, { probe: false })).toBe('SENT');
    const sent = await harness.notifications.get(a.notificationId);
    expect(sent?.attempts.map((x) => [x.number, x.trigger, x.outcome])).toEqual([
      [1, 'initial', 'FAILED'],
      [2, 'retry', 'SENT'],
    ]);
  });
});
