/**
 * Local mode's delivery queue: the journaling SQS endpoint in front of fauxqs and the pollers
 * that stand in for Lambda's event source mapping, against real stand-ins.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { listen } from '../../local/listen';
import { type SqsJournal, startSqsJournal } from '../../local/sqs-journal';
import { type SqsPoller, type SqsPollerOptions, startSqsPoller } from '../../local/sqs-poller';
import { type StandIns, standInNames, startStandIns } from '../../local/standins';
import { eventually } from '../support/eventually';

const MAX_RECEIVES = 3;

interface Run {
  standIns: StandIns;
  journal: SqsJournal;
  client: SQSClient;
}

/** A poller of the run's delivery queue, as Lambda's event source mapping would be. */
function pollerOf(
  run: Run,
  opts: Omit<SqsPollerOptions, 'client' | 'queueUrl' | 'queueArn' | 'region'>,
): SqsPoller {
  return startSqsPoller({
    client: run.client,
    queueUrl: run.standIns.queueUrl,
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:webhooks-delivery',
    region: run.standIns.region,
    ...opts,
  });
}

/** Up to 10 messages of `queueUrl` with all their attributes, long-polling `waitTimeSeconds`. */
async function receive(client: SQSClient, queueUrl: string, waitTimeSeconds = 1) {
  const out = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: waitTimeSeconds,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return out.Messages ?? [];
}

/** A promise that holds a handler until `release` is called. */
function gate(): { released: Promise<void>; release: () => void } {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { released, release };
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

  /** `via` puts something between the journal and fauxqs; it answers the URL to forward to. */
  async function startRun(
    dataDir: string,
    via?: (sqsEndpoint: string) => Promise<string>,
  ): Promise<Run> {
    const standIns = await startStandIns({
      visibilityTimeoutSeconds: 1,
      maxReceiveCount: MAX_RECEIVES,
    });
    const journal = await startSqsJournal({
      target: via ? await via(standIns.sqsEndpoint) : standIns.sqsEndpoint,
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
    const poller = pollerOf(run, {
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
    const { released, release } = gate();
    const poller = pollerOf(run, {
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

  it('hands the next batch to the group served least recently, not to the one that arrived first', async () => {
    const run = await startRun(tempDir());
    const served: string[] = [];
    const { released, release } = gate();
    const poller = pollerOf(run, {
      pollers: 1,
      readers: 1,
      batchSize: 1,
      waitTimeSeconds: 1,
      handler: async (event) => {
        served.push(event.Records.map((r) => r.body).join(','));
        if (served.length === 1) await released;
        return { batchItemFailures: [] };
      },
    });
    try {
      await run.client.send(
        new SendMessageBatchCommand({
          QueueUrl: run.standIns.queueUrl,
          Entries: [
            ...Array.from({ length: 4 }, (_, j) => ({
              Id: `a${j}`,
              MessageBody: `a${j}`,
              MessageGroupId: 'A',
            })),
            { Id: 'b0', MessageBody: 'b0', MessageGroupId: 'B' },
          ],
        }),
      );
      // The first batch holds the one worker until every message has been read ahead.
      await eventually(async () => {
        const attributes = await run.client.send(
          new GetQueueAttributesCommand({
            QueueUrl: run.standIns.queueUrl,
            AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
          }),
        );
        return served.length === 1 &&
          attributes.Attributes?.ApproximateNumberOfMessagesNotVisible === '5'
          ? true
          : undefined;
      }, 20_000);
      release();
      await eventually(() => (served.length === 5 ? true : undefined), 20_000);

      expect(served).toEqual(['a0', 'b0', 'a1', 'a2', 'a3']);
    } finally {
      release();
      await poller.stop();
      await stopRun(run);
    }
  }, 60_000);

  it('journals a send before passing on a receive of its message, even when fauxqs answers the receive first', async () => {
    let relay: SendHoldingRelay | undefined;
    const run = await startRun(tempDir(), async (sqsEndpoint) => {
      relay = await startSendHoldingRelay(sqsEndpoint);
      return relay.url;
    });
    try {
      const queueUrl = run.standIns.queueUrl;
      const sent = run.client.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'grouped', MessageGroupId: 'G' }),
      );
      // fauxqs has the message and answered the send; that answer is held on its way back.
      await eventually(() => ((relay?.heldSends() ?? 0) > 0 ? true : undefined), 20_000);
      const messages = await receive(run.client, queueUrl, 5);
      const { MessageId } = await sent;

      expect(messages.map((m) => [m.MessageId, m.Body, m.Attributes?.MessageGroupId])).toEqual([
        [MessageId, 'grouped', 'G'],
      ]);
      await run.client.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: messages[0]?.ReceiptHandle }),
      );
      expect(run.journal.pending()).toBe(0);
    } finally {
      await stopRun(run);
      await relay?.stop();
    }
  }, 60_000);

  it('keeps accepted messages across a restart: undeleted ones come back, deleted ones do not', async () => {
    const dataDir = tempDir();
    const first = await startRun(dataDir);
    await first.client.send(
      new SendMessageCommand({ QueueUrl: first.standIns.queueUrl, MessageBody: 'delivered' }),
    );
    // Consume and acknowledge the first one before sending the rest.
    const consumed = pollerOf(first, {
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
    const received = await receive(second.client, second.standIns.queueUrl);

    expect(replayed).toEqual({ [names.queue]: 2 });
    expect(received.map((m) => m.Body).sort()).toEqual(['owed-1', 'owed-2']);
    // Owed at the restart, they come back as redeliveries (whoever held them died with the run).
    expect(received.map((m) => m.Attributes?.ApproximateReceiveCount)).toEqual(['2', '2']);
    const withAttribute = received.find((m) => m.Body === 'owed-1');
    expect(withAttribute?.MessageAttributes?.kind?.StringValue).toBe('x');
    await stopRun(second);
  }, 90_000);

  it('replays a delayed message with what is left of its delay, and one whose delay has passed at once', async () => {
    const dataDir = tempDir();
    const first = await startRun(dataDir);
    const queueUrl = first.standIns.queueUrl;
    await first.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'now' }));
    await first.client.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'later', DelaySeconds: 600 }),
    );
    await first.client.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'due', DelaySeconds: 1 }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await stopRun(first);

    const second = await startRun(dataDir);
    const replayed = await second.journal.replay();
    const seen: string[] = [];
    await eventually(async () => {
      for (const m of await receive(second.client, second.standIns.queueUrl, 0)) {
        seen.push(m.Body ?? '');
        await second.client.send(
          new DeleteMessageCommand({
            QueueUrl: second.standIns.queueUrl,
            ReceiptHandle: m.ReceiptHandle,
          }),
        );
      }
      return seen.length >= 2 ? true : undefined;
    }, 20_000);
    const after = await receive(second.client, second.standIns.queueUrl);

    expect(replayed).toEqual({ [names.queue]: 3 });
    expect(seen.sort()).toEqual(['due', 'now']);
    expect(after).toEqual([]);
    // Still owed, and still delayed: it is neither received nor lost.
    expect(second.journal.pending()).toBe(1);
    await stopRun(second);
  }, 90_000);

  it('fails the whole batch when the handler throws or names a message that is not in it', async () => {
    const run = await startRun(tempDir());
    const seen: string[] = [];
    const poller = pollerOf(run, {
      pollers: 1,
      waitTimeSeconds: 1,
      handler: async (event) => {
        seen.push(...event.Records.map((r) => `${r.body}#${r.attributes.ApproximateReceiveCount}`));
        if (event.Records.some((r) => r.attributes.ApproximateReceiveCount === '1')) {
          if (event.Records.some((r) => r.body === 'throws')) throw new Error('handler failed');
          return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
        }
        return { batchItemFailures: [] };
      },
    });
    try {
      // One at a time, so each message's first batch fails for its own reason.
      for (const body of ['unknown-failure', 'throws']) {
        await run.client.send(
          new SendMessageCommand({ QueueUrl: run.standIns.queueUrl, MessageBody: body }),
        );
        await eventually(() => (run.journal.pending() === 0 ? true : undefined), 20_000);
      }

      expect(seen).toEqual(['unknown-failure#1', 'unknown-failure#2', 'throws#1', 'throws#2']);
    } finally {
      await poller.stop();
      await stopRun(run);
    }
  }, 60_000);

  it('forgets purged messages, across a restart too, but not those sent after the purge', async () => {
    const dataDir = tempDir();
    const first = await startRun(dataDir);
    const queueUrl = first.standIns.queueUrl;
    await first.client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: '1', MessageBody: 'purged-1' },
          // Not visible yet when purged: PurgeQueue removes delayed messages too.
          { Id: '2', MessageBody: 'purged-delayed', DelaySeconds: 60 },
        ],
      }),
    );
    expect(first.journal.pending()).toBe(2);
    await first.client.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
    expect(first.journal.pending()).toBe(0);
    await first.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'kept' }));
    await stopRun(first);

    const second = await startRun(dataDir);
    const replayed = await second.journal.replay();
    const received = await receive(second.client, second.standIns.queueUrl);

    expect(replayed).toEqual({ [names.queue]: 1 });
    expect(received.map((m) => m.Body)).toEqual(['kept']);
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
        const out = await receive(first.client, first.standIns.queueUrl);
        return out.length > 0 ? true : undefined;
      }, 10_000);
    }
    await stopRun(first);

    const second = await startRun(dataDir);
    const replayed = await second.journal.replay();

    const dead = await receive(second.client, second.standIns.dlqUrl);

    expect(replayed).toEqual({ [names.dlq]: 1 });
    // Its receives on the delivery queue do not count on the dead-letter queue: held by the
    // run that died, it comes back as a redelivery there.
    expect(dead.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([
      ['poison', '2'],
    ]);
    await stopRun(second);
  }, 90_000);
});

interface SendHoldingRelay {
  readonly url: string;
  /** SendMessage answers held back so far. */
  heldSends(): number;
  stop(): Promise<void>;
}

/**
 * A loopback relay in front of fauxqs that holds back SendMessage answers until a
 * ReceiveMessage answer carrying messages has been passed on: fauxqs hands a message to a
 * receive on one connection while the send's answer is still on its way on another.
 */
async function startSendHoldingRelay(target: string): Promise<SendHoldingRelay> {
  const upstream = new URL(target);
  const held: (() => void)[] = [];
  let holding = true;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '');
      const forward = http.request(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          const out: Buffer[] = [];
          answer.on('data', (c: Buffer) => out.push(c));
          answer.on('end', () => {
            const payload = Buffer.concat(out);
            const {
              'transfer-encoding': _te,
              connection: _c,
              'keep-alive': _ka,
              ...headers
            } = answer.headers;
            const pass = () => {
              res.writeHead(answer.statusCode ?? 502, {
                ...headers,
                'content-length': String(payload.length),
              });
              res.end(payload);
            };
            if (holding && operation === 'AmazonSQS.SendMessage') {
              held.push(pass);
              return;
            }
            pass();
            const messages =
              operation === 'AmazonSQS.ReceiveMessage' && answer.statusCode === 200
                ? (JSON.parse(payload.toString('utf8') || '{}').Messages ?? [])
                : [];
            if (messages.length > 0) {
              holding = false;
              for (const release of held.splice(0)) release();
            }
          });
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(Buffer.concat(chunks));
    });
  });
  const address = await listen(server);
  return {
    url: `http://127.0.0.1:${address.port}`,
    heldSends: () => held.length,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
