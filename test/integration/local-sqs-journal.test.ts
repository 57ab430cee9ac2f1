/**
 * Local mode's delivery queue: the journaling SQS endpoint in front of fauxqs and the pollers
 * that stand in for Lambda's event source mapping, against real stand-ins.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { type SqsJournal, startSqsJournal } from '../../local/sqs-journal';
import { startSqsPoller } from '../../local/sqs-poller';
import { type StandIns, standInNames, startStandIns } from '../../local/standins';
import { eventually } from '../support/eventually';

const MAX_RECEIVES = 3;

interface Run {
  standIns: StandIns;
  journal: SqsJournal;
  client: SQSClient;
}

describe('local delivery queue (journal + pollers)', () => {
  const dirs: string[] = [];
  const names = standInNames();
  let current: Run | undefined;

  function tempDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqs-journal-'));
    dirs.push(dir);
    return dir;
  }

  async function startRun(dataDir: string): Promise<Run> {
    const standIns = await startStandIns({
      visibilityTimeoutSeconds: 1,
      maxReceiveCount: MAX_RECEIVES,
    });
    const journal = await startSqsJournal({
      target: standIns.sqsEndpoint,
      dataDir,
      queues: {
        [names.queue]: {
          url: standIns.queueUrl,
          deadLetter: { queueName: names.dlq, maxReceiveCount: MAX_RECEIVES },
        },
        [names.dlq]: { url: standIns.dlqUrl },
      },
    });
    const client = new SQSClient({
      region: standIns.region,
      endpoint: journal.url,
      useQueueUrlAsEndpoint: false,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    current = { standIns, journal, client };
    return current;
  }

  async function stopRun(run: Run | undefined): Promise<void> {
    if (!run) return;
    run.client.destroy();
    await run.journal.stop();
    await run.standIns.stop();
    if (current === run) current = undefined;
  }

  afterAll(async () => {
    await stopRun(current);
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('hands batches to the handler as SQS events, deletes what succeeded and redelivers what failed', async () => {
    const run = await startRun(tempDir());
    const seen: SQSEvent['Records'] = [];
    const poller = startSqsPoller({
      client: run.client,
      queueUrl: run.standIns.queueUrl,
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:webhooks-delivery',
      region: run.standIns.region,
      pollers: 2,
      waitTimeSeconds: 1,
      handler: async (event) => {
        seen.push(...event.Records);
        const failures = event.Records.filter(
          (r) => r.body === 'fail-once' && r.attributes.ApproximateReceiveCount === '1',
        );
        return { batchItemFailures: failures.map((r) => ({ itemIdentifier: r.messageId })) };
      },
    });
    try {
      await run.client.send(
        new SendMessageBatchCommand({
          QueueUrl: run.standIns.queueUrl,
          Entries: [
            { Id: 'a', MessageBody: 'ok-1' },
            { Id: 'b', MessageBody: 'fail-once' },
            { Id: 'c', MessageBody: 'ok-2' },
          ],
        }),
      );

      await eventually(() => (run.journal.pending() === 0 ? true : undefined), 20_000);

      const bodies = seen.map((r) => `${r.body}#${r.attributes.ApproximateReceiveCount}`).sort();
      expect(bodies).toEqual(['fail-once#1', 'fail-once#2', 'ok-1#1', 'ok-2#1']);
      expect(seen[0]).toMatchObject({
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:webhooks-delivery',
        awsRegion: 'us-east-1',
      });
      expect(seen[0]?.messageId).toEqual(expect.any(String));
      expect(seen[0]?.receiptHandle).toEqual(expect.any(String));
      expect(Number(seen[0]?.attributes.SentTimestamp)).toBeGreaterThan(0);
    } finally {
      await poller.stop();
      await stopRun(run);
    }
  }, 60_000);

  it('keeps one message group (one webhook) in at most half the workers, so another group is served while it floods', async () => {
    const run = await startRun(tempDir());
    const heldA = new Set<string>();
    let mostHeldA = 0;
    let heldAWhenBArrived = -1;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const poller = startSqsPoller({
      client: run.client,
      queueUrl: run.standIns.queueUrl,
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:webhooks-delivery',
      region: run.standIns.region,
      pollers: 4,
      waitTimeSeconds: 1,
      handler: async (event) => {
        if (event.Records.some((r) => r.attributes.MessageGroupId === 'B')) {
          heldAWhenBArrived = heldA.size;
          release();
          return { batchItemFailures: [] };
        }
        const batch = event.Records[0]!.messageId;
        heldA.add(batch);
        mostHeldA = Math.max(mostHeldA, heldA.size);
        await released;
        heldA.delete(batch);
        return { batchItemFailures: [] };
      },
    });
    try {
      for (let i = 0; i < 40; i += 10) {
        await run.client.send(
          new SendMessageBatchCommand({
            QueueUrl: run.standIns.queueUrl,
            Entries: Array.from({ length: 10 }, (_, j) => ({
              Id: String(j),
              MessageBody: `a-${i + j}`,
              MessageGroupId: 'A',
            })),
          }),
        );
      }
      // Group A fills the workers it may have; only then does group B's message arrive.
      await eventually(() => (heldA.size >= 2 ? true : undefined), 20_000);
      await run.client.send(
        new SendMessageCommand({
          QueueUrl: run.standIns.queueUrl,
          MessageBody: 'b',
          MessageGroupId: 'B',
        }),
      );

      await eventually(() => (heldAWhenBArrived >= 0 ? true : undefined), 20_000);
      // B was handed out while A's batches still held their workers.
      expect(heldAWhenBArrived).toBe(2);
      expect(mostHeldA).toBe(2);
    } finally {
      release();
      await poller.stop();
      await stopRun(run);
    }
  }, 60_000);

  it('keeps accepted messages across a restart: undeleted ones come back, deleted ones do not', async () => {
    const dataDir = tempDir();
    const first = await startRun(dataDir);
    await first.client.send(
      new SendMessageCommand({ QueueUrl: first.standIns.queueUrl, MessageBody: 'delivered' }),
    );
    // Consume and acknowledge the first one before sending the rest.
    const consumed = startSqsPoller({
      client: first.client,
      queueUrl: first.standIns.queueUrl,
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:webhooks-delivery',
      region: 'us-east-1',
      pollers: 1,
      waitTimeSeconds: 1,
      handler: async () => ({ batchItemFailures: [] }),
    });
    await eventually(() => (first.journal.pending() === 0 ? true : undefined), 20_000);
    await consumed.stop();
    await first.client.send(
      new SendMessageBatchCommand({
        QueueUrl: first.standIns.queueUrl,
        Entries: [
          {
            Id: '1',
            MessageBody: 'owed-1',
            MessageAttributes: { kind: { DataType: 'String', StringValue: 'x' } },
          },
          { Id: '2', MessageBody: 'owed-2' },
        ],
      }),
    );
    await stopRun(first);

    const second = await startRun(dataDir);
    const replayed = await second.journal.replay();
    const received = await second.client.send(
      new ReceiveMessageCommand({
        QueueUrl: second.standIns.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
      }),
    );

    expect(replayed).toEqual({ [names.queue]: 2 });
    expect((received.Messages ?? []).map((m) => m.Body).sort()).toEqual(['owed-1', 'owed-2']);
    const withAttribute = received.Messages?.find((m) => m.Body === 'owed-1');
    expect(withAttribute?.MessageAttributes?.kind?.StringValue).toBe('x');
    await stopRun(second);
  }, 90_000);

  it('puts a message that had used up its receives into the dead-letter queue on restart', async () => {
    const dataDir = tempDir();
    const first = await startRun(dataDir);
    await first.client.send(
      new SendMessageCommand({ QueueUrl: first.standIns.queueUrl, MessageBody: 'poison' }),
    );
    for (let n = 0; n < MAX_RECEIVES; n++) {
      await eventually(async () => {
        const out = await first.client.send(
          new ReceiveMessageCommand({
            QueueUrl: first.standIns.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
          }),
        );
        return (out.Messages ?? []).length > 0 ? true : undefined;
      }, 10_000);
    }
    await stopRun(first);

    const second = await startRun(dataDir);
    const replayed = await second.journal.replay();

    expect(replayed).toEqual({ [names.dlq]: 1 });
    await stopRun(second);
  }, 90_000);
});
