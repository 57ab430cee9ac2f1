/**
 * The delivery queue on SQS. One JSON message per DeliveryJob (toQueueJson: the characters SQS
 * refuses in a body are written as `\u` escapes, so every valid event can be queued), sent with
 * SendMessageBatch in chunks that respect both SQS batch limits (10 entries, total payload size,
 * counted on the escaped bodies). Every message carries its webhook as MessageGroupId: on a
 * standard queue that makes it a fair queue, which serves quiet webhooks' messages ahead of a
 * webhook holding a disproportionate share of the consumers (no ordering or throughput change
 * otherwise).
 */
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { forEachBounded } from '../core/concurrency';
import { PayloadTooLargeError } from '../core/errors';
import { MAX_QUEUE_MESSAGE_BYTES } from '../core/ingest';
import { messageGroupOf } from '../core/jobs';
import type { DeliveryJob } from '../core/model';
import { toQueueJson } from '../core/queue-json';
import type { DeliveryQueue, EnqueueOptions } from '../ports';

export const SQS_MAX_BATCH_ENTRIES = 10;
/** SQS limit for one message and for the sum of a batch (1 MiB; 256 KiB before 2025). */
export const SQS_MAX_BATCH_BYTES = MAX_QUEUE_MESSAGE_BYTES;

export interface SqsDeliveryQueueOptions {
  /** Size limit of one batch (and so of one message). Default 1 MiB. */
  readonly maxBatchBytes?: number;
  /** Extra rounds for entries SQS reported as failed (not sender faults). Default 3. */
  readonly retries?: number;
  /** First back-off between rounds, doubled each round. Default 50 ms. */
  readonly backoffMs?: number;
}

/** Some jobs could not be queued after the retries. */
export class QueueSendError extends Error {
  constructor(
    message: string,
    readonly failures: readonly {
      readonly index: number;
      readonly code: string;
      readonly senderFault: boolean;
    }[],
  ) {
    super(message);
    this.name = 'QueueSendError';
  }
}

interface Pending {
  readonly index: number;
  readonly body: string;
  readonly group: string;
  readonly bytes: number;
}

/** SQS DelaySeconds bounds. */
export const SQS_MAX_DELAY_SECONDS = 900;

/** SendMessageBatch requests in flight at once for one enqueue. */
const SEND_CONCURRENCY = 16;
/** How many bytes of made messages one enqueue keeps between its check and its sends. */
const RETAINED_BYTES = 16 * 1024 * 1024;

/** A job as one queue message: escaped as SQS requires (sizes count the escapes). */
function pendingOf(job: DeliveryJob, index: number): Pending {
  const body = toQueueJson(job);
  const group = messageGroupOf(job);
  return {
    index,
    body,
    group,
    bytes: Buffer.byteLength(body, 'utf8') + Buffer.byteLength(group, 'utf8'),
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SqsDeliveryQueue implements DeliveryQueue {
  private readonly maxBatchBytes: number;
  private readonly retries: number;
  private readonly backoffMs: number;

  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    options: SqsDeliveryQueueOptions = {},
  ) {
    this.maxBatchBytes = options.maxBatchBytes ?? SQS_MAX_BATCH_BYTES;
    this.retries = options.retries ?? 3;
    this.backoffMs = options.backoffMs ?? 50;
  }

  async enqueue(jobs: readonly DeliveryJob[], options: EnqueueOptions = {}): Promise<void> {
    const delay = options.delaySeconds ?? 0;
    if (!Number.isInteger(delay) || delay < 0 || delay > SQS_MAX_DELAY_SECONDS)
      throw new RangeError(`delaySeconds must be an integer in [0, ${SQS_MAX_DELAY_SECONDS}]`);
    // Every job is checked before anything is sent: one that cannot be queued queues nothing.
    // The messages are kept for the sends up to RETAINED_BYTES; past that (a large fan-out)
    // only their sizes, and each batch is made again when it is sent.
    const made: (Pending | undefined)[] = [];
    let retained = 0;
    const sizes = jobs.map((job, index) => {
      const pending = pendingOf(job, index);
      if (pending.bytes > this.maxBatchBytes) {
        throw new PayloadTooLargeError(
          `delivery job ${index} is ${pending.bytes} bytes; a queue message holds at most ${this.maxBatchBytes} bytes`,
        );
      }
      retained += pending.bytes;
      made.push(retained <= RETAINED_BYTES ? pending : undefined);
      return pending.bytes;
    });

    let remaining = jobs.map((_, index) => index);
    let failures: QueueSendError['failures'] = [];
    for (let round = 0; remaining.length > 0 && round <= this.retries; round++) {
      if (round > 0) await sleep(this.backoffMs * 2 ** (round - 1));
      failures = await this.sendAll(jobs, made, remaining, sizes, delay);
      // Sender faults (malformed entry) fail the same way every time: do not retry them.
      if (failures.some((f) => f.senderFault)) break;
      const failed = new Set(failures.map((f) => f.index));
      remaining = remaining.filter((index) => failed.has(index));
    }
    if (failures.length > 0) {
      const codes = [...new Set(failures.map((f) => f.code))].join(', ');
      throw new QueueSendError(
        `${failures.length} of ${jobs.length} delivery jobs could not be queued (${codes})`,
        failures,
      );
    }
  }

  /**
   * Sends the jobs at `indexes` in batches, at most SEND_CONCURRENCY at once. A batch's bodies
   * are made when it is sent and let go after: a fan-out of many megabytes (a batch of events
   * for many webhooks) never sits in memory whole, nor in the SDK's requests all at once.
   */
  private async sendAll(
    jobs: readonly DeliveryJob[],
    made: readonly (Pending | undefined)[],
    indexes: readonly number[],
    sizes: readonly number[],
    delay: number,
  ): Promise<QueueSendError['failures']> {
    const batches = chunk(
      indexes.map((index) => ({ index, bytes: sizes[index] ?? 0 })),
      this.maxBatchBytes,
    );
    const failures: QueueSendError['failures'][number][] = [];
    await forEachBounded(batches, SEND_CONCURRENCY, async (batch) => {
      const pending = batch.map(
        ({ index }) => made[index] ?? pendingOf(jobs[index] as DeliveryJob, index),
      );
      failures.push(...(await this.sendChunk(pending, delay)).failures);
    });
    return failures;
  }

  private async sendChunk(
    entries: readonly Pending[],
    delaySeconds: number,
  ): Promise<{ failures: QueueSendError['failures'] }> {
    const byId = new Map(entries.map((p) => [String(p.index), p]));
    const request: SendMessageBatchRequestEntry[] = entries.map((p) => ({
      Id: String(p.index),
      MessageBody: p.body,
      MessageGroupId: p.group,
      ...(delaySeconds > 0 ? { DelaySeconds: delaySeconds } : {}),
    }));
    const out = await this.client.send(
      new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: request }),
    );
    const failures = (out.Failed ?? []).map((f) => ({
      index: byId.get(f.Id ?? '')?.index ?? -1,
      code: f.Code ?? 'Unknown',
      senderFault: f.SenderFault === true,
    }));
    return { failures };
  }
}

/** Greedy chunks of at most 10 entries and at most maxBytes in total, order kept. */
export function chunk<T extends { readonly bytes: number }>(
  items: readonly T[],
  maxBytes: number,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    if (
      current.length === SQS_MAX_BATCH_ENTRIES ||
      (current.length > 0 && size + item.bytes > maxBytes)
    ) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += item.bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
