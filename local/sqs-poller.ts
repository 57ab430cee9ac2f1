/**
 * The local stand-in for Lambda's SQS event source mapping: a few long-polling loops that hand
 * batches of up to 10 messages to the delivery handler as real SQSEvent records and delete
 * the records it did not report in batchItemFailures (ReportBatchItemFailures). A handler that
 * throws fails the whole batch: nothing is deleted and SQS redelivers after the visibility
 * timeout, as on AWS.
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

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
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
      if (out.Failed && out.Failed.length > 0) {
        onError('some processed messages could not be deleted and will be redelivered', out.Failed);
      }
    } catch (err) {
      onError('processed messages could not be deleted and will be redelivered', err);
    }
  };

  const loop = async (): Promise<void> => {
    let failing = false;
    while (!stopping.signal.aborted) {
      try {
        const out = await opts.client.send(
          new ReceiveMessageCommand({
            QueueUrl: opts.queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: waitTimeSeconds,
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
        if (messages.length === 0) continue;
        batchCount++;
        // Not interrupted by stop(): a batch in flight finishes and is acknowledged.
        await handleBatch(messages);
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
  };

  const loops = Array.from({ length: pollers }, () => loop());
  return {
    healthy: () => !stopping.signal.aborted && failingLoops === 0,
    batches: () => batchCount,
    stop: async () => {
      stopping.abort();
      await Promise.allSettled(loops);
    },
  };
}

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
