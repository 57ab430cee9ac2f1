import {
  type Message,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { chunk, QueueSendError, SqsDeliveryQueue } from '../../lambdas/adapters/sqs-queue';
import { PayloadTooLargeError } from '../../lambdas/core/errors';
import type { DeliveryJob } from '../../lambdas/core/model';
import { useStandIns } from '../support/standins';

function deliverJob(n: number, dataBytes = 10): DeliveryJob {
  return {
    kind: 'deliver',
    notificationId: `ntf_${n}`,
    webhookId: 'wh_1',
    event: {
      id: `evt_${n}`,
      type: 'LOAN_DISBURSEMENT',
      occurredAt: '2026-11-28T10:00:00.000Z',
      data: { pad: 'x'.repeat(dataBytes) },
    },
  };
}

async function drain(sqs: SQSClient, queueUrl: string, expected: number): Promise<Message[]> {
  const messages: Message[] = [];
  for (let round = 0; round < 50 && messages.length < expected; round++) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
      }),
    );
    messages.push(...(out.Messages ?? []));
  }
  return messages;
}

/** Counts SendMessageBatch calls and their entries while passing them to the real client. */
function spyBatches(sqs: SQSClient): {
  sizes: number[][];
  entries: SendMessageBatchRequestEntry[];
  restore(): void;
} {
  const sizes: number[][] = [];
  const entries: SendMessageBatchRequestEntry[] = [];
  const original = sqs.send.bind(sqs);
  const spy = jest.spyOn(sqs, 'send').mockImplementation(((
    command: unknown,
    ...rest: unknown[]
  ) => {
    if (command instanceof SendMessageBatchCommand) {
      sizes.push(
        (command.input.Entries ?? []).map((e) => Buffer.byteLength(e.MessageBody ?? '', 'utf8')),
      );
      entries.push(...(command.input.Entries ?? []));
    }
    return (original as (...a: unknown[]) => unknown)(command, ...rest);
  }) as never);
  return { sizes, entries, restore: () => spy.mockRestore() };
}

describe('SqsDeliveryQueue against fauxqs', () => {
  const standIns = useStandIns();

  afterEach(async () => {
    await standIns().clients.sqs.send(new PurgeQueueCommand({ QueueUrl: standIns().queueUrl }));
  });

  it('delivers 25 jobs as 25 messages whose bodies are the jobs as JSON, in batches of at most 10', async () => {
    const { sqs } = standIns().clients;
    const queue = new SqsDeliveryQueue(sqs, standIns().queueUrl);
    const jobs = Array.from({ length: 25 }, (_, i) => deliverJob(i));
    const spy = spyBatches(sqs);

    await queue.enqueue(jobs);
    spy.restore();

    expect(spy.sizes.map((s) => s.length)).toEqual([10, 10, 5]);
    const bodies = (await drain(sqs, standIns().queueUrl, 25)).map((m) =>
      JSON.parse(m.Body ?? 'null'),
    );
    expect(bodies).toHaveLength(25);
    expect(
      bodies.sort((a, b) => Number(a.event.id.slice(4)) - Number(b.event.id.slice(4))),
    ).toEqual(jobs);
  });

  it("queues every kind of job in its webhook's message group (fair queues), with the delay asked for", async () => {
    const { sqs } = standIns().clients;
    const queue = new SqsDeliveryQueue(sqs, standIns().queueUrl);
    const jobs: DeliveryJob[] = [
      deliverJob(1),
      { kind: 'resend', notificationId: 'ntf_2', webhookId: 'wh_2', jobId: 'job_1' },
      {
        kind: 'resendQuery',
        jobId: 'job_1',
        query: {
          from: '2026-01-01T00:00:00Z',
          to: '2026-01-02T00:00:00Z',
          webhookId: 'wh_3',
          status: 'FAILED',
        },
      },
      // A range over every webhook belongs to none: the resend job is its own tenant.
      {
        kind: 'resendQuery',
        jobId: 'job_2',
        query: { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', status: 'FAILED' },
      },
    ];
    const spy = spyBatches(sqs);

    await queue.enqueue(jobs);
    await queue.enqueue([deliverJob(5)], { delaySeconds: 3 });
    spy.restore();

    expect(spy.entries.map((e) => [e.MessageGroupId, e.DelaySeconds])).toEqual([
      ['wh_1', undefined],
      ['wh_2', undefined],
      ['wh_3', undefined],
      ['resend:job_2', undefined],
      ['wh_1', 3],
    ]);
    expect(await drain(sqs, standIns().queueUrl, 4)).toHaveLength(4);
    await expect(queue.enqueue([deliverJob(6)], { delaySeconds: 901 })).rejects.toBeInstanceOf(
      RangeError,
    );
  });

  it('queues a fan-out of many megabytes whole, with a bounded number of requests in flight', async () => {
    const { sqs } = standIns().clients;
    const original = sqs.send.bind(sqs);
    let inFlight = 0;
    let mostInFlight = 0;
    let requests = 0;
    const spy = jest.spyOn(sqs, 'send').mockImplementation((async (
      command: unknown,
      ...rest: unknown[]
    ) => {
      if (!(command instanceof SendMessageBatchCommand))
        return (original as (...a: unknown[]) => unknown)(command, ...rest);
      requests++;
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        return await (original as (...a: unknown[]) => Promise<unknown>)(command, ...rest);
      } finally {
        inFlight--;
      }
    }) as never);
    // 200 jobs of about 100 KB: 20 MB, more than one enqueue keeps made at once.
    const jobs = Array.from({ length: 200 }, (_, i) => deliverJob(i, 100_000));
    try {
      await new SqsDeliveryQueue(sqs, standIns().queueUrl).enqueue(jobs);
    } finally {
      spy.mockRestore();
    }

    expect(requests).toBeGreaterThanOrEqual(20);
    expect(mostInFlight).toBeGreaterThan(1);
    expect(mostInFlight).toBeLessThanOrEqual(16);
    const messages = await drain(sqs, standIns().queueUrl, jobs.length);
    const bodies = new Map(
      messages.map((m) => [JSON.parse(m.Body ?? '{}').notificationId, m.Body]),
    );
    expect(bodies.size).toBe(jobs.length);
    for (const [i, job] of jobs.entries()) expect(bodies.get(`ntf_${i}`)).toBe(JSON.stringify(job));
  }, 120_000);

  it('splits batches by total size so no batch exceeds the limit', async () => {
    const { sqs } = standIns().clients;
    const limit = 64 * 1024;
    const queue = new SqsDeliveryQueue(sqs, standIns().queueUrl, { maxBatchBytes: limit });
    // Each job about 20 KiB: at most three fit into 64 KiB although ten entries would be allowed.
    const jobs = Array.from({ length: 7 }, (_, i) => deliverJob(i, 20 * 1024));
    const spy = spyBatches(sqs);

    await queue.enqueue(jobs);
    spy.restore();

    expect(spy.sizes.map((s) => s.length)).toEqual([3, 3, 1]);
    for (const sizes of spy.sizes)
      expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(limit);
    expect(await drain(sqs, standIns().queueUrl, 7)).toHaveLength(7);
  });

  it('queues jobs carrying emoji, U+FFFE and U+FFFF anywhere in the event, and they come back exactly', async () => {
    const { sqs } = standIns().clients;
    const queue = new SqsDeliveryQueue(sqs, standIns().queueUrl);
    const jobs: DeliveryJob[] = [
      {
        kind: 'deliver',
        notificationId: 'ntf_emoji',
        webhookId: 'wh_1',
        event: {
          id: 'evt_😀',
          type: 'OK 🎉',
          occurredAt: '2026-11-28T10:00:00.000Z',
          subject: 'client-👩‍💻',
          data: { k: '😀', '🔑': ['\uffff', '\ufffe', 'a\u{10ffff}z'], plain: 'é €' },
        },
      },
      { kind: 'resend', notificationId: 'ntf_2', webhookId: 'wh_😀', jobId: 'job_1' },
    ];

    await queue.enqueue(jobs);

    const bodies = await drain(sqs, standIns().queueUrl, 2);
    expect(bodies.map((m) => JSON.parse(m.Body ?? 'null'))).toEqual(expect.arrayContaining(jobs));
    expect(bodies).toHaveLength(2);
  });

  it('splits batches by the escaped size of the messages', async () => {
    const { sqs } = standIns().clients;
    const limit = 64 * 1024;
    const queue = new SqsDeliveryQueue(sqs, standIns().queueUrl, { maxBatchBytes: limit });
    // 1,500 emoji: 6,000 bytes of UTF-8 but 18,000 once escaped. Unescaped, all seven would
    // fit into 64 KiB; escaped, three do.
    const jobs = Array.from({ length: 7 }, (_, i) => {
      const job = deliverJob(i, 0) as Extract<DeliveryJob, { kind: 'deliver' }>;
      return { ...job, event: { ...job.event, data: { pad: '😀'.repeat(1500) } } };
    });
    const spy = spyBatches(sqs);

    await queue.enqueue(jobs);
    spy.restore();

    expect(spy.sizes.map((s) => s.length)).toEqual([3, 3, 1]);
    for (const sizes of spy.sizes)
      expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(limit);
    expect(await drain(sqs, standIns().queueUrl, 7)).toHaveLength(7);
  });

  it('sends a job of almost 1 MiB on its own and refuses one above 1 MiB without sending anything', async () => {
    const { sqs } = standIns().clients;
    const queue = new SqsDeliveryQueue(sqs, standIns().queueUrl);
    const big = deliverJob(1, 1024 * 1024 - 400);
    await queue.enqueue([deliverJob(0), big]);
    expect(await drain(sqs, standIns().queueUrl, 2)).toHaveLength(2);

    const spy = spyBatches(sqs);
    await expect(queue.enqueue([deliverJob(2), deliverJob(3, 1024 * 1024)])).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );
    spy.restore();
    expect(spy.sizes).toEqual([]);
  });
});

describe('SqsDeliveryQueue partial failures', () => {
  // SQS reporting some entries of a batch as failed is a path fauxqs cannot produce: the client is faked.
  function fakeClient(
    failures: (
      entryIds: string[],
      call: number,
    ) => { Id: string; SenderFault: boolean; Code: string }[],
  ) {
    const calls: string[][] = [];
    const client = {
      send: async (command: SendMessageBatchCommand) => {
        const ids = (command.input.Entries ?? []).map((e) => e.Id!);
        calls.push(ids);
        const failed = failures(ids, calls.length);
        return {
          Successful: ids.filter((id) => !failed.some((f) => f.Id === id)).map((Id) => ({ Id })),
          Failed: failed,
        };
      },
    } as unknown as SQSClient;
    return { client, calls };
  }

  it('retries only the entries that failed and succeeds when a later round takes them', async () => {
    const { client, calls } = fakeClient((ids, call) =>
      call === 1
        ? ids
            .filter((id) => id === '3' || id === '7')
            .map((Id) => ({ Id, SenderFault: false, Code: 'ServiceUnavailable' }))
        : [],
    );
    await new SqsDeliveryQueue(client, 'http://queue', { backoffMs: 1 }).enqueue(
      Array.from({ length: 10 }, (_, i) => deliverJob(i)),
    );
    expect(calls).toEqual([
      ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      ['3', '7'],
    ]);
  });

  it('throws naming the failure when entries still fail after the retries', async () => {
    const { client, calls } = fakeClient((ids) =>
      ids
        .filter((id) => id === '1')
        .map((Id) => ({ Id, SenderFault: false, Code: 'ServiceUnavailable' })),
    );
    const queue = new SqsDeliveryQueue(client, 'http://queue', { retries: 2, backoffMs: 1 });
    const error = await queue.enqueue([deliverJob(0), deliverJob(1)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueSendError);
    expect((error as QueueSendError).message).toContain(
      '1 of 2 delivery jobs could not be queued (ServiceUnavailable)',
    );
    expect(calls).toHaveLength(3);
  });

  it('does not retry sender faults', async () => {
    const { client, calls } = fakeClient((ids) =>
      ids
        .filter((id) => id === '0')
        .map((Id) => ({ Id, SenderFault: true, Code: 'InvalidMessageContents' })),
    );
    await expect(
      new SqsDeliveryQueue(client, 'http://queue', { backoffMs: 1 }).enqueue([deliverJob(0)]),
    ).rejects.toBeInstanceOf(QueueSendError);
    expect(calls).toHaveLength(1);
  });
});

describe('chunk', () => {
  it('keeps order, caps entries at 10 and bytes at the limit, and puts an oversized item alone', () => {
    const items = [5, 5, 5, 20, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1].map((bytes, i) => ({ bytes, i }));
    const chunks = chunk(items, 12);
    expect(chunks.map((c) => c.map((x) => x.i))).toEqual([
      [0, 1],
      [2],
      [3],
      [4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
      [14],
    ]);
  });
});
