/**
 * Throttling in the delivery Lambda: a DynamoDB write, StartExecution or the queue throttled
 * (past the SDK's own retries) puts the job back into the queue as a new message, so it is
 * tried again without a delivery attempt counted and without its receive count growing toward
 * the dead-letter queue. DynamoDB Local, fauxqs and a loopback receiver are real; the throttling
 * itself is injected (a stand-in never throttles): a client wrapper that throws the service's
 * throttling error on the first matching call.
 */

import {
  type DynamoDBClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import { SFNServiceException } from '@aws-sdk/client-sfn';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { DeliveryJob } from '../../lambdas/core/model';
import type { RetryStart } from '../../lambdas/core/retry-contract';
import type { createDeliveryHandler } from '../../lambdas/handlers/delivery';
import type { RetryScheduler } from '../../lambdas/ports';
import {
  createDeliveryHarness,
  type DeliveryHarness,
  definition,
  deliverJob,
  deliveryHandlerOf,
  event,
} from '../support/delivery-harness';
import { always, ok, type Receiver, startReceiver } from '../support/receivers';
import { type StandIns, useStandIns } from '../support/standins';

/** Throws `error` from the client's send for the next `times` commands that `match`. */
function throttleNext<C extends { send: (...args: never[]) => unknown }>(
  client: C,
  match: (command: { constructor: { name: string }; input: Record<string, unknown> }) => boolean,
  error: () => Error,
): { client: C; arm(times?: number): void; readonly thrown: number } {
  let armed = 0;
  let thrown = 0;
  const wrapped = new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver);
      return (command: never, ...rest: never[]) => {
        if (armed > 0 && match(command)) {
          armed--;
          thrown++;
          return Promise.reject(error());
        }
        return (target.send as (...a: never[]) => unknown)(command, ...rest);
      };
    },
  });
  return {
    client: wrapped,
    arm: (times = 1) => {
      armed = times;
    },
    get thrown() {
      return thrown;
    },
  };
}

const dynamoThrottle = () =>
  new ProvisionedThroughputExceededException({
    message: 'The level of configured provisioned throughput for the table was exceeded.',
    $metadata: { httpStatusCode: 400, attempts: 10 },
  });

/** Step Functions has no modeled throttling error: the SDK makes a service exception by name. */
const sfnThrottle = () =>
  new SFNServiceException({
    name: 'ThrottlingException',
    $fault: 'client',
    message: 'Rate exceeded',
    $metadata: { httpStatusCode: 400, attempts: 3 },
  });

describe('the delivery Lambda when AWS throttles', () => {
  const standIns = useStandIns();
  let harness: DeliveryHarness;
  let receiver: Receiver;
  let dynamo: ReturnType<typeof throttleNext<DynamoDBClient>>;
  let sqs: ReturnType<typeof throttleNext<SQSClient>>;
  let starts: RetryStart[];
  let throttleStarts = 0;
  let handler: ReturnType<typeof createDeliveryHandler>;

  beforeAll(async () => {
    const s = standIns();
    dynamo = throttleNext(
      s.clients.dynamo,
      (c) => c.constructor.name === 'PutItemCommand' && c.input.TableName === s.tables.payloads,
      dynamoThrottle,
    );
    sqs = throttleNext(
      s.clients.sqs,
      (c) => c.constructor.name === 'SendMessageBatchCommand',
      () =>
        Object.assign(new Error('Request is throttled.'), {
          name: 'RequestThrottled',
          $metadata: { httpStatusCode: 400 },
        }),
    );
    starts = [];
    const scheduler: RetryScheduler = {
      start: async (input) => {
        if (throttleStarts > 0) {
          throttleStarts--;
          throw sfnThrottle();
        }
        starts.push(input);
      },
    };
    const throttling: StandIns = {
      ...s,
      clients: { ...s.clients, dynamo: dynamo.client, sqs: sqs.client },
    };
    harness = createDeliveryHarness(throttling, { scheduler });
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
    starts.length = 0;
    throttleStarts = 0;
  });

  function recordOf(m: {
    MessageId?: string;
    ReceiptHandle?: string;
    Body?: string;
    Attributes?: Record<string, string>;
    MD5OfBody?: string;
  }): SQSRecord {
    return {
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body!,
      attributes: m.Attributes as unknown as SQSRecord['attributes'],
      messageAttributes: {},
      md5OfBody: m.MD5OfBody!,
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:webhooks-delivery',
      awsRegion: 'us-east-1',
    };
  }

  /**
   * The next message of this notification in the queue (taken out of it: these tests hand
   * records to the handler themselves), as the Lambda event source would hand it over.
   */
  async function nextMessage(notificationId: string): Promise<SQSRecord> {
    const { sqs: raw } = standIns().clients;
    for (let round = 0; round < 30; round++) {
      const out = await raw.send(
        new ReceiveMessageCommand({
          QueueUrl: standIns().queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length > 0)
        await raw.send(
          new DeleteMessageBatchCommand({
            QueueUrl: standIns().queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
      const mine = messages.find((m) => m.Body?.includes(notificationId));
      if (mine) return recordOf(mine);
    }
    throw new Error(`no message of ${notificationId} came back to the queue`);
  }

  async function viaQueue(job: DeliveryJob, notificationId: string): Promise<SQSEvent> {
    await standIns().clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: standIns().queueUrl,
        Entries: [{ Id: '0', MessageBody: JSON.stringify(job) }],
      }),
    );
    return { Records: [await nextMessage(notificationId)] };
  }

  it('a throttled write of the rendered request puts the job back as a new message, and it is sent once when it comes back', async () => {
    const def = definition({ url: `${receiver.url}/throttled-payload` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'T-1' }));
    const first = await viaQueue(job, job.notificationId);
    dynamo.arm();

    const response = await handler(first);

    expect(dynamo.thrown).toBe(1);
    expect(response.batchItemFailures).toEqual([]);
    expect(receiver.requests).toHaveLength(0);
    expect(await harness.notifications.get(job.notificationId)).toBeUndefined();
    const again = await nextMessage(job.notificationId);
    expect(JSON.parse(again.body)).toEqual({ ...job, throttled: 1 });
    // A new message: the receive count that leads to the dead-letter queue starts over.
    expect(again.attributes.ApproximateReceiveCount).toBe('1');

    expect((await handler({ Records: [again] })).batchItemFailures).toEqual([]);

    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([job.notificationId]);
    const n = await harness.notifications.get(job.notificationId);
    expect(n).toMatchObject({ status: 'SENT' });
    expect(n!.attempts.map((a) => [a.number, a.trigger])).toEqual([[1, 'initial']]);
  });

  it('a throttled StartExecution after a failed first attempt starts the retry from the job put back, the attempt recorded once', async () => {
    receiver.setBehaviour(always(500));
    const def = definition({ url: `${receiver.url}/throttled-start` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'T-2' }));
    throttleStarts = 1;

    const response = await handler(await viaQueue(job, job.notificationId));

    expect(response.batchItemFailures).toEqual([]);
    expect(starts).toEqual([]);
    const again = await nextMessage(job.notificationId);
    expect(JSON.parse(again.body)).toMatchObject({ throttled: 1 });

    expect((await handler({ Records: [again] })).batchItemFailures).toEqual([]);

    expect(receiver.requests).toHaveLength(1);
    const n = await harness.notifications.get(job.notificationId);
    expect(n).toMatchObject({ status: 'WAITING' });
    expect(n!.attempts.map((a) => a.number)).toEqual([1]);
    expect(starts).toEqual([
      expect.objectContaining({ notificationId: job.notificationId, retry: 1 }),
    ]);
  });

  it('each throttling of the same job puts it back for longer', async () => {
    const def = definition({ url: `${receiver.url}/throttled-twice` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'T-3' }));
    const delays: number[] = [];
    const spy = jest.spyOn(harness.queue, 'enqueue');

    let record = (await viaQueue(job, job.notificationId)).Records[0]!;
    for (let i = 0; i < 2; i++) {
      dynamo.arm();
      expect((await handler({ Records: [record] })).batchItemFailures).toEqual([]);
      delays.push(spy.mock.calls.at(-1)![1]!.delaySeconds!);
      record = await nextMessage(job.notificationId);
    }
    spy.mockRestore();

    expect(JSON.parse(record.body)).toMatchObject({ throttled: 2 });
    expect(delays[1]!).toBeGreaterThanOrEqual(2);
    expect(delays[0]!).toBeLessThanOrEqual(2);
    await handler({ Records: [record] });
    expect(receiver.requests).toHaveLength(1);
  });

  it('a job that cannot be put back (the queue throttled too) is a batch item failure, redelivered by SQS', async () => {
    const def = definition({ url: `${receiver.url}/throttled-queue` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'T-4' }));
    const sqsEvent = await viaQueue(job, job.notificationId);
    dynamo.arm();
    sqs.arm(10);

    const response = await handler(sqsEvent);
    sqs.arm(0);

    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: sqsEvent.Records[0]!.messageId },
    ]);
    expect(receiver.requests).toHaveLength(0);
  });
});
