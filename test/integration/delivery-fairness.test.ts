/**
 * The per-webhook concurrency cap against the real stand-ins: lease sets in DynamoDB Local,
 * a job turned away at the cap queued again in fauxqs, and the delivery engine around them.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoConcurrencyLeases } from '../../lambdas/adapters/dynamo-leases';
import { ConcurrencyGate } from '../../lambdas/core/concurrency-gate';
import type { DeliveryJob } from '../../lambdas/core/model';
import { drainQueue } from '../support/api-harness';
import {
  createDeliveryHarness,
  type DeliveryHarness,
  definition,
  deliverJob,
  event,
} from '../support/delivery-harness';
import { heldReplies, ok, type Receiver, startReceiver } from '../support/receivers';
import { useStandIns } from '../support/standins';

describe('lease sets in DynamoDB', () => {
  const standIns = useStandIns();
  const leases = () =>
    new DynamoConcurrencyLeases(standIns().clients.dynamo, standIns().tables.notifications);

  it('hands out at most `cap` leases per webhook and takes one back on release', async () => {
    const store = leases();
    const now = Date.now();
    const a = await store.acquire('wh_lease1', 2, now, 30_000);
    const b = await store.acquire('wh_lease1', 2, now, 30_000);
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(a).not.toBe(b);
    expect(await store.acquire('wh_lease1', 2, now, 30_000)).toBeUndefined();
    expect(await store.acquire('wh_lease2', 2, now, 30_000)).toBeDefined();

    await store.release('wh_lease1', a!);

    expect(await store.acquire('wh_lease1', 2, now, 30_000)).toBeDefined();
  });

  it('sweeps leases that expired (their Lambda died) when the set is full', async () => {
    const store = leases();
    const now = Date.now();
    expect(await store.acquire('wh_lease3', 1, now, 1_000)).toBeDefined();
    expect(await store.acquire('wh_lease3', 1, now + 500, 1_000)).toBeUndefined();

    expect(await store.acquire('wh_lease3', 1, now + 2_000, 1_000)).toBeDefined();
  });
});

describe('a webhook at its concurrency cap', () => {
  const standIns = useStandIns();
  let harness: DeliveryHarness;
  let receiver: Receiver;
  let releaseHeld: () => void = () => undefined;

  beforeAll(async () => {
    harness = createDeliveryHarness(standIns(), {
      gate: new ConcurrencyGate(
        new DynamoConcurrencyLeases(standIns().clients.dynamo, standIns().tables.notifications),
      ),
    });
    receiver = await startReceiver(ok());
  });
  afterAll(async () => {
    releaseHeld();
    await harness?.close();
    await receiver?.close();
  });
  afterEach(async () => {
    await drainQueue(standIns().clients.sqs, standIns().queueUrl, 0);
  });

  it('puts the next job back in the queue, delayed and counted, without an attempt, while the first is in flight', async () => {
    const def = definition({ url: `${receiver.url}/capped`, maxConcurrency: 1 });
    await harness.webhooks.put(def);
    const held = heldReplies();
    releaseHeld = held.release;
    const firstArrived = held.arrived;
    receiver.setBehaviour(held.behaviour);
    const first = deliverJob(def, event({ loanId: 'C-1' }));
    const second = deliverJob(def, event({ loanId: 'C-2' }));

    const firstDone = harness.service.handleJob(first);
    await firstArrived;
    await harness.service.handleJob(second);

    // Turned away: no record, no request; the job is back in the queue with a delay.
    expect(await harness.notifications.get(second.notificationId)).toBeUndefined();
    expect(receiver.requests).toHaveLength(1);
    expect(harness.observer.events.filter((e) => e.kind === 'deferred')).toEqual([
      {
        kind: 'deferred',
        ref: { notificationId: second.notificationId, webhookId: def.id },
        detail: { deferrals: 1, delaySeconds: expect.any(Number) },
      },
    ]);

    releaseHeld();
    await firstDone;
    expect((await harness.notifications.get(first.notificationId))?.status).toBe('SENT');

    // The queued copy comes back after its delay and is delivered like any job.
    const requeued = await receiveOne(standIns().clients.sqs, standIns().queueUrl);
    expect(requeued).toEqual({ ...second, deferrals: 1 });
    receiver.setBehaviour(ok());
    await harness.service.handleJob(requeued);
    expect((await harness.notifications.get(second.notificationId))?.status).toBe('SENT');
    expect(receiver.requests).toHaveLength(2);
  });
});

/** Waits for the next job on the queue (a delayed one appears after its delay) and takes it out. */
async function receiveOne(sqs: SQSClient, queueUrl: string): Promise<DeliveryJob> {
  for (;;) {
    const [job] = await drainQueue(sqs, queueUrl, 5);
    if (job) return job;
  }
}
