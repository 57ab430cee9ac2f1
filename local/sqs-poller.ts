/**
 * The local stand-in for Lambda's SQS event source mapping: a few workers that hand batches
 * of up to 10 messages to the delivery handler as real SQSEvent records and delete the
 * records it did not report in batchItemFailures (ReportBatchItemFailures). A handler that
 * throws fails the whole batch: nothing is deleted and SQS redelivers after the visibility
 * timeout, as on AWS. It also stands in for SQS fair queues, which fauxqs lacks: batches are
 * formed from a read-ahead buffer by message group (see below).
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { required } from '../lambdas/core/required';

export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;

export interface SqsPollerOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly handler: SqsBatchHandler;
  /** Concurrent long-poll loops (default 4). */
  readonly pollers?: number;
  /** Messages per batch, 1..10 (default 10). */
  readonly batchSize?: number;
  /** Long-poll wait, 0..20 s (default 20; stop() interrupts it). */
  readonly waitTimeSeconds?: number;
  /**
   * Most messages read ahead of the handlers (default 20 000), so a quiet webhook's messages
   * behind a backlog are seen and served first, as SQS fair queues do.
   */
  readonly prefetch?: number;
  /**
   * Most batches of one message group (one webhook) in the handler at once (default half the
   * pollers, at least 1): the stand-in for the stack's cap of one webhook at half the delivery
   * Lambdas, so a flooded webhook leaves workers free for the others.
   */
  readonly batchesPerGroup?: number;
  /** Concurrent receive loops filling the read-ahead buffer (default 4). */
  readonly readers?: number;
  readonly onError?: (message: string, err: unknown) => void;
}

export interface SqsPoller {
  /** true while every loop is polling (for the health check). */
  healthy(): boolean;
  /** Batches handed to the handler so far. */
  batches(): number;
  /** Stops polling; waits for batches in flight to finish and be acknowledged. */
  stop(): Promise<void>;
}

export function startSqsPoller(opts: SqsPollerOptions): SqsPoller {
  const pollers = opts.pollers ?? 4;
  const batchSize = opts.batchSize ?? 10;
  const waitTimeSeconds = opts.waitTimeSeconds ?? 20;
  const prefetch = opts.prefetch ?? 20_000;
  const batchesPerGroup = Math.max(1, opts.batchesPerGroup ?? Math.ceil(pollers / 2));
  const readers = Math.max(1, opts.readers ?? 4);
  const onError = opts.onError ?? (() => {});
  const stopping = new AbortController();
  let batchCount = 0;
  let failingLoops = 0;

  const handleBatch = async (messages: Message[]): Promise<void> => {
    const records = messages.map((m) => toRecord(m, opts.queueArn, opts.region));
    let failed: Set<string>;
    try {
      const result = await opts.handler({ Records: records });
      failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      // Lambda treats an identifier that is not in the batch as a failure of the whole batch.
      for (const id of failed) {
        if (!records.some((r) => r.messageId === id))
          failed = new Set(records.map((r) => r.messageId));
      }
    } catch (err) {
      onError('delivery handler failed the whole batch; SQS will redeliver it', err);
      return;
    }
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
    if (done.length === 0) return;
    try {
      const out = await opts.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: opts.queueUrl,
          Entries: done.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: required(m.ReceiptHandle, 'ReceiptHandle'),
          })),
        }),
      );
      if (out.Failed && out.Failed.length > 0) {
        onError('some processed messages could not be deleted and will be redelivered', out.Failed);
      }
    } catch (err) {
      onError('processed messages could not be deleted and will be redelivered', err);
    }
  };

  // Fair queue emulation. fauxqs hands messages out in arrival order; SQS fair queues serve a
  // quiet webhook's messages ahead of a webhook with a backlog. So one reader keeps up to
  // `prefetch` messages read ahead of the handlers, per message group (MessageGroupId, the
  // webhook), and the `pollers` workers take each batch from the groups with the fewest
  // messages in the handler, least recently served first, a group in at most
  // `batchesPerGroup` batches at once.
  const groups = new Map<
    string,
    { messages: Buffered[]; inFlight: number; batches: number; servedAt: number }
  >();
  let buffered = 0;
  let serveClock = 0;
  let wakeWorkers: (() => void)[] = [];
  let wakeReaders: (() => void)[] = [];
  const notifyWorkers = () => {
    const waiting = wakeWorkers;
    wakeWorkers = [];
    for (const wake of waiting) wake();
  };
  const groupOf = (name: string) => {
    let group = groups.get(name);
    if (!group) {
      group = { messages: [], inFlight: 0, batches: 0, servedAt: 0 };
      groups.set(name, group);
    }
    return group;
  };

  const takeBatch = (): { messages: Message[]; done: () => void } | undefined => {
    if (buffered === 0) return undefined;
    const order = [...groups.entries()]
      .filter(([, g]) => g.messages.length > 0 && g.batches < batchesPerGroup)
      .sort(([, a], [, b]) => a.inFlight - b.inFlight || a.servedAt - b.servedAt);
    if (order.length === 0) return undefined;
    const taken: { group: string; message: Message }[] = [];
    const names: string[] = [];
    for (const [name, group] of order) {
      while (taken.length < batchSize && group.messages.length > 0)
        taken.push({
          group: name,
          message: required(group.messages.shift(), 'a queued message').message,
        });
      group.inFlight += taken.filter((t) => t.group === name).length;
      group.batches++;
      group.servedAt = ++serveClock;
      names.push(name);
      if (taken.length >= batchSize) break;
    }
    buffered -= taken.length;
    const waitingReaders = wakeReaders;
    wakeReaders = [];
    for (const wake of waitingReaders) wake();
    return {
      messages: taken.map((t) => t.message),
      done: () => {
        for (const t of taken) {
          const group = groups.get(t.group);
          if (group) group.inFlight--;
        }
        for (const name of names) {
          const group = groups.get(name);
          if (!group) continue;
          group.batches--;
          if (group.inFlight === 0 && group.messages.length === 0) groups.delete(name);
        }
        // A group that was at its batch limit may have messages waiting for a worker.
        if (buffered > 0) notifyWorkers();
      },
    };
  };

  /** Keeps messages read ahead visible: SQS would hand them out again after its timeout. */
  const extendVisibility = async (): Promise<void> => {
    const now = Date.now();
    const due: Buffered[] = [];
    for (const group of groups.values())
      for (const b of group.messages) if (now - b.extendedAt > EXTEND_AFTER_MS) due.push(b);
    for (let i = 0; i < due.length; i += 10) {
      const chunk = due.slice(i, i + 10);
      await opts.client
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: opts.queueUrl,
            Entries: chunk.map((b, j) => ({
              Id: String(j),
              ReceiptHandle: required(b.message.ReceiptHandle, 'ReceiptHandle'),
              VisibilityTimeout: EXTEND_BY_SECONDS,
            })),
          }),
        )
        .catch((err) => onError('could not keep read-ahead messages invisible', err));
      for (const b of chunk) b.extendedAt = now;
    }
  };

  // Several readers, so the read-ahead gets through a flooded webhook's backlog quickly enough
  // to find the other webhooks' messages behind it; the first also keeps the buffer invisible.
  const reader = async (keepsVisibility: boolean): Promise<void> => {
    let failing = false;
    let lastExtension = Date.now();
    while (!stopping.signal.aborted) {
      if (keepsVisibility && Date.now() - lastExtension > EXTEND_AFTER_MS / 2) {
        lastExtension = Date.now();
        await extendVisibility();
      }
      if (buffered >= prefetch) {
        await new Promise<void>((resolve) => {
          wakeReaders.push(resolve);
          setTimeout(resolve, EXTEND_AFTER_MS / 4).unref();
        });
        continue;
      }
      try {
        const out = await opts.client.send(
          new ReceiveMessageCommand({
            QueueUrl: opts.queueUrl,
            MaxNumberOfMessages: 10,
            // Long-poll only with nothing to hand out; otherwise read ahead without waiting.
            WaitTimeSeconds: buffered === 0 ? waitTimeSeconds : 0,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: stopping.signal },
        );
        if (failing) {
          failing = false;
          failingLoops--;
        }
        const messages = out.Messages ?? [];
        const now = Date.now();
        for (const message of messages) {
          const name = message.Attributes?.MessageGroupId ?? `message:${message.MessageId}`;
          groupOf(name).messages.push({ message, extendedAt: now });
        }
        buffered += messages.length;
        if (messages.length > 0) notifyWorkers();
        else if (buffered > 0) await new Promise((r) => setTimeout(r, 20));
      } catch (err) {
        if (stopping.signal.aborted) break;
        if (!failing) {
          failing = true;
          failingLoops++;
          onError('receiving from the delivery queue failed; retrying', err);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    if (failing) failingLoops--;
    notifyWorkers();
  };

  const worker = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      const batch = takeBatch();
      if (!batch) {
        await new Promise<void>((resolve) => wakeWorkers.push(resolve));
        continue;
      }
      batchCount++;
      // Not interrupted by stop(): a batch in flight finishes and is acknowledged.
      try {
        await handleBatch(batch.messages);
      } finally {
        batch.done();
      }
    }
  };

  const loops = [
    ...Array.from({ length: readers }, (_, i) => reader(i === 0)),
    ...Array.from({ length: pollers }, () => worker()),
  ];
  return {
    healthy: () => !stopping.signal.aborted && failingLoops === 0,
    batches: () => batchCount,
    stop: async () => {
      stopping.abort();
      notifyWorkers();
      await Promise.allSettled(loops);
    },
  };
}

interface Buffered {
  readonly message: Message;
  /** When its visibility was last set (received or extended). */
  extendedAt: number;
}

/** Read-ahead messages are made invisible again this long after the last time... */
const EXTEND_AFTER_MS = 10_000;
/** ...for this long (the local queue's own timeout is 30 s). */
const EXTEND_BY_SECONDS = 60;

/** An SQS message as Lambda's event source mapping hands it over. */
export function toRecord(m: Message, queueArn: string, region: string): SQSRecord {
  const attributes = (m.Attributes ?? {}) as Record<string, string>;
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, a] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: a.DataType ?? 'String',
      ...(a.StringValue !== undefined ? { stringValue: a.StringValue } : {}),
      ...(a.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(a.BinaryValue).toString('base64') }
        : {}),
    };
  }
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp:
        attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...attributes,
    },
    messageAttributes,
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}
