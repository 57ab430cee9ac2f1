/**
 * The SQS-triggered delivery Lambda: real messages from fauxqs handed over as an SQS event,
 * bounded concurrent delivery, partial batch failures, duplicated messages, bulk resend expansion.
 */

import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { DeliveryJob } from '../../lambdas/core/model';
import type { createDeliveryHandler } from '../../lambdas/handlers/delivery';
import { drainQueue } from '../support/api-harness';
import {
  createDeliveryHarness,
  type DeliveryHarness,
  definition,
  deliverJob,
  deliveryHandlerOf,
  event,
} from '../support/delivery-harness';
import { always, heldReplies, ok, type Receiver, startReceiver } from '../support/receivers';
import { useStandIns } from '../support/standins';

describe('the delivery Lambda on SQS batches', () => {
  const standIns = useStandIns();
  let harness: DeliveryHarness;
  let receiver: Receiver;
  let handler: ReturnType<typeof createDeliveryHandler>;

  beforeAll(async () => {
    harness = createDeliveryHarness(standIns(), { firstAttemptWindowSeconds: 1 });
    receiver = await startReceiver(ok());
    handler = deliveryHandlerOf(harness.service);
  });
  afterAll(async () => {
    await harness?.close();
    await receiver?.close();
  });
  beforeEach(() => {
    receiver.requests.length = 0;
    receiver.setBehaviour(ok());
  });

  /** Sends raw bodies to the queue and receives them back as a Lambda SQS event. */
  async function viaQueue(bodies: string[]): Promise<SQSEvent> {
    const { sqs } = standIns().clients;
    const queueUrl = standIns().queueUrl;
    for (let i = 0; i < bodies.length; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: bodies
            .slice(i, i + 10)
            .map((body, j) => ({ Id: String(i + j), MessageBody: body })),
        }),
      );
    }
    const records: SQSRecord[] = [];
    while (records.length < bodies.length) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length > 0) {
        // Out of the queue at once: these tests hand records to the handler themselves.
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
      }
      for (const m of messages) {
        records.push({
          messageId: m.MessageId!,
          receiptHandle: m.ReceiptHandle!,
          body: m.Body!,
          attributes: m.Attributes as unknown as SQSRecord['attributes'],
          messageAttributes: {},
          md5OfBody: m.MD5OfBody!,
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:webhooks-delivery',
          awsRegion: 'us-east-1',
        });
      }
    }
    return { Records: records };
  }

  it('delivers every record of a batch and reports no failures', async () => {
    const def = definition({ url: `${receiver.url}/batch` });
    await harness.webhooks.put(def);
    const jobs = Array.from({ length: 10 }, (_, i) => deliverJob(def, event({ loanId: `L-${i}` })));

    const response = await handler(await viaQueue(jobs.map((j) => JSON.stringify(j))));

    expect(response.batchItemFailures).toEqual([]);
    expect(receiver.requests).toHaveLength(10);
    for (const job of jobs) {
      expect(await harness.notifications.get(job.notificationId)).toMatchObject({ status: 'SENT' });
    }
  });

  it('sends the notifications of a batch concurrently, up to its send concurrency', async () => {
    // Each request is answered only once four are in flight: one at a time, none would be.
    let inFlight = 0;
    let most = 0;
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    receiver.setBehaviour(async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      if (inFlight === 4) openGate();
      await gate;
      inFlight--;
      return { status: 200, body: 'ok' };
    });
    const jobs: ReturnType<typeof deliverJob>[] = [];
    for (let i = 0; i < 8; i++) {
      const def = definition({ url: `${receiver.url}/together-${i}` });
      await harness.webhooks.put(def);
      jobs.push(deliverJob(def, event({ loanId: `T-${i}` })));
    }

    const response = await handler(await viaQueue(jobs.map((j) => JSON.stringify(j))));

    expect(response.batchItemFailures).toEqual([]);
    expect(most).toBe(4);
    for (const job of jobs)
      expect(await harness.notifications.get(job.notificationId)).toMatchObject({ status: 'SENT' });
  });

  it('reports only the malformed record as a batch item failure', async () => {
    const def = definition({ url: `${receiver.url}/partial` });
    await harness.webhooks.put(def);
    const good = [deliverJob(def, event({ loanId: 'A' })), deliverJob(def, event({ loanId: 'B' }))];
    const sqsEvent = await viaQueue([
      JSON.stringify(good[0]),
      '{"kind":"deliver"',
      JSON.stringify(good[1]),
    ]);
    const bad = sqsEvent.Records.find((r) => r.body === '{"kind":"deliver"')!;

    const response = await handler(sqsEvent);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: bad.messageId }]);
    expect(receiver.requests).toHaveLength(2);
  });

  it('sends and records once when the same message arrives twice in one batch', async () => {
    const def = definition({ url: `${receiver.url}/dup-batch` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'D' }));

    const response = await handler(await viaQueue([JSON.stringify(job), JSON.stringify(job)]));

    expect(response.batchItemFailures).toEqual([]);
    expect((await harness.notifications.get(job.notificationId))!.attempts).toHaveLength(1);
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([job.notificationId]);
  });

  /** The jobs of one notification put back on the queue (a second or so later, as delayed). */
  async function putBack(notificationId: string): Promise<DeliveryJob[]> {
    const jobs = await drainQueue(standIns().clients.sqs, standIns().queueUrl, 3);
    return jobs.filter((j) => 'notificationId' in j && j.notificationId === notificationId);
  }

  const storedRequest = (url: string) => ({
    method: 'POST' as const,
    url,
    headers: { 'content-type': 'application/json' },
    body: '{"loan":"first rendering"}',
  });

  it('a copy of a deliver job handled while the first attempt is in flight sends nothing, and nothing when it looks again', async () => {
    const def = definition({ url: `${receiver.url}/copy-in-flight` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'C' }));
    const held = heldReplies();
    receiver.setBehaviour(held.behaviour);

    const first = harness.service.handleJob(job);
    await held.arrived;
    // A second Lambda with the same job (a producer id posted again): request stored, no record.
    await harness.service.handleJob(job);
    held.release();
    await first;

    expect(receiver.requests).toHaveLength(1);
    const again = await putBack(job.notificationId);
    expect(again).toEqual([{ ...job, awaitedFirst: true }]);
    await harness.service.handleJob(again[0]!);
    expect(receiver.requests).toHaveLength(1);
    expect((await harness.notifications.get(job.notificationId))!.attempts).toHaveLength(1);
  });

  it('a copy that finds the request of a copy that died (stored, never recorded) waits once, then sends it and records it', async () => {
    const def = definition({ url: `${receiver.url}/copy-died` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'E' }));
    const stored = storedRequest(`${receiver.url}/copy-died`);
    expect(await harness.payloads.putOnce(job.notificationId, stored, 2_000_000_000)).toBe(
      'created',
    );

    await harness.service.handleJob(job);
    expect(receiver.requests).toHaveLength(0);
    const [again] = await putBack(job.notificationId);
    await harness.service.handleJob(again!);

    expect(receiver.requests.map((r) => r.body)).toEqual([stored.body]);
    const n = await harness.notifications.get(job.notificationId);
    expect(n).toMatchObject({ status: 'SENT' });
    expect(n!.attempts).toHaveLength(1);
    expect(await putBack(job.notificationId)).toEqual([]);
  });

  it('a message handed out again after its visibility timeout sends at once (its own earlier run stored the request)', async () => {
    const def = definition({ url: `${receiver.url}/redelivered` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'R' }));
    const stored = storedRequest(`${receiver.url}/redelivered`);
    await harness.payloads.putOnce(job.notificationId, stored, 2_000_000_000);

    const [record] = (await viaQueue([JSON.stringify(job)])).Records;
    const response = await handler({
      Records: [
        { ...record!, attributes: { ...record!.attributes, ApproximateReceiveCount: '2' } },
      ],
    });

    expect(response.batchItemFailures).toEqual([]);
    expect(receiver.requests.map((r) => r.body)).toEqual([stored.body]);
    expect((await harness.notifications.get(job.notificationId))!.attempts).toHaveLength(1);
    expect(await putBack(job.notificationId)).toEqual([]);
  });

  it('expands a bulk resend by range page by page through the queue, and counts its outcomes', async () => {
    receiver.setBehaviour(always(500));
    const def = definition({ url: `${receiver.url}/bulk` });
    await harness.webhooks.put({ ...def });
    const from = new Date(Date.now() - 1000).toISOString();
    const jobs = Array.from({ length: 3 }, (_, i) => deliverJob(def, event({ loanId: `R-${i}` })));
    for (const job of jobs) await harness.service.handleJob(job);
    await harness.machine.settle();
    const to = new Date(Date.now() + 1000).toISOString();
    receiver.setBehaviour(ok());
    receiver.requests.length = 0;
    await harness.resendJobs.create({
      jobId: 'job_range',
      count: 3,
      queued: 0,
      sent: 0,
      failed: 0,
      createdAt: to,
    });

    // The API enqueues one resendQuery job; the delivery Lambda expands and runs it.
    const expansion: DeliveryJob = {
      kind: 'resendQuery',
      jobId: 'job_range',
      query: { from, to, webhookId: def.id, status: 'FAILED' },
    };
    expect((await handler(await viaQueue([JSON.stringify(expansion)]))).batchItemFailures).toEqual(
      [],
    );
    expect(await harness.resendJobs.get('job_range')).toMatchObject({
      count: 3,
      queued: 3,
      sent: 0,
      failed: 0,
    });
    const { sqs } = standIns().clients;
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: standIns().queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    const bodies = (out.Messages ?? []).map((m) => JSON.parse(m.Body!) as DeliveryJob);
    expect(bodies.map((b) => b.kind)).toEqual(['resend', 'resend', 'resend']);
    expect(new Set(bodies.map((b) => (b.kind === 'resend' ? b.notificationId : '')))).toEqual(
      new Set(jobs.map((j) => j.notificationId)),
    );
    // Each expanded resend names its webhook, the message group it is queued in.
    expect(bodies.map((b) => (b.kind === 'resend' ? b.webhookId : ''))).toEqual([
      def.id,
      def.id,
      def.id,
    ]);
    for (const body of bodies) await harness.service.handleJob(body);

    expect(await harness.resendJobs.get('job_range')).toMatchObject({
      count: 3,
      queued: 3,
      sent: 3,
      failed: 0,
    });
    expect(receiver.requests).toHaveLength(3);
    for (const job of jobs) {
      const notification = await harness.notifications.get(job.notificationId);
      expect(notification).toMatchObject({ status: 'SENT' });
      expect(notification!.attempts.at(-1)).toMatchObject({ trigger: 'manual', outcome: 'SENT' });
    }
  });
});
