/**
 * What the cost model measures rather than assumes:
 *  - DynamoDB capacity units of the real store adapters against DynamoDB Local, per path of a
 *    notification, as DynamoDB reports them (ReturnConsumedCapacity INDEXES), and the bytes
 *    its items and index entries keep (bench/support/dynamo-meter.ts);
 *  - state transitions of the synthesized machines executed locally (aws-local-stepfunctions)
 *    with stand-in tasks: the retry chain (an execution per retry) per way it ends, and the
 *    health driver per step and per execution;
 *  - log bytes the delivery and attempt handlers write (Powertools logger and EMF metrics);
 *  - bytes of one attempt on the wire.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSEvent } from 'aws-lambda';
import { createAwsClients } from '../lambdas/adapters/aws-clients';
import { fixedCursorKey } from '../lambdas/adapters/cursor-key';
import {
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoWebhookStore,
} from '../lambdas/adapters/dynamo-stores';
import { createHttpSender } from '../lambdas/adapters/http-sender';
import { createDeliveryObserver } from '../lambdas/adapters/observability';
import { DICTIONARY_ID_PREFIX } from '../lambdas/adapters/payload-dictionary';
import type { TlsKeyExchange } from '../lambdas/config';
import { CachedWebhookStore } from '../lambdas/core/definition-cache';
import { DeliveryService } from '../lambdas/core/delivery';
import { notificationIdFor } from '../lambdas/core/ids';
import type {
  DeliveryJob,
  EventEnvelope,
  Notification,
  WebhookDefinition,
} from '../lambdas/core/model';
import { Renderer } from '../lambdas/core/render';
import { buildRenderContext } from '../lambdas/core/render-context';
import { required } from '../lambdas/core/required';
import type {
  HealthTaskInput,
  RetryExecutionInput,
  RetryStart,
  RetryTaskInput,
} from '../lambdas/core/retry-contract';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, RETRY_COUNT } from '../lambdas/core/retry-schedule';
import { sendTimeHeaders } from '../lambdas/core/signing';
import { createAttemptHandler } from '../lambdas/handlers/attempt';
import { createDeliveryHandler } from '../lambdas/handlers/delivery';
import type { HealthDriverInput, RetryScheduler } from '../lambdas/ports';
import { synthesizeHealthDefinition, synthesizeRetryDefinition } from '../lib/retry-definition';
import { standInCipher, startStandIns } from '../local/standins';
import { runChain, runExecution } from '../test/support/machine-runs';
import {
  MemoryDeliveryQueue,
  MemoryNotificationStore,
  MemoryPayloadStore,
  MemoryResendJobStore,
  MemoryWebhookStore,
} from '../test/support/memory-stores';
import { SILENT_DELIVERY_OBSERVER } from '../test/support/silent-observers';
import {
  type HealthMachineCount,
  type LogBytes,
  type MachineCount,
  type PathUnits,
  RETRY_OUTCOMES,
  type RetryOutcome,
} from './cost-model';
import { referenceDefinition, referenceEvent } from './fixtures/reference';
import { type Meter, meterDynamo } from './support/dynamo-meter';
import { measureTlsWire, type TlsWire } from './support/tls-wire';
import type { BenchOptions } from './support/types';

const LOOPBACK_POLICY = { allowHttp: true, allowCidrs: ['127.0.0.0/8'] };
/** 100 bytes of per-item overhead DynamoDB bills storage for. */
const ITEM_OVERHEAD = 100;

/** `prefix` and 26 characters, as webhook ids and ULID-based ids have: `seed`, padded. */
function fullLengthId(prefix: string, seed: string): string {
  return `${prefix}${seed.padEnd(26, '0').slice(0, 26)}`;
}

/** Receiver failures before it answers 200 (the receiver child's /fail-N/ paths). */
export function failuresOf(outcome: 'sent' | RetryOutcome): number {
  if (outcome === 'sent') return 0;
  if (outcome === 'exhausted') return 6;
  return Number(outcome.slice(-1));
}

// ---- state transitions -------------------------------------------------------------------------

/**
 * Runs the synthesized retry machine as the attempt Lambda chains it, one execution per retry
 * (a stand-in task that fails until the outcome's retry and starts the next execution while
 * k < 5), and counts states entered (billed transitions) and history events over them all.
 */
export async function countTransitions(outcome: RetryOutcome): Promise<MachineCount> {
  const sentAt = outcome === 'exhausted' ? Number.POSITIVE_INFINITY : failuresOf(outcome);
  const first: RetryExecutionInput = {
    notificationId: 'ntf_COST',
    retry: 1,
    nextAttemptAt: new Date().toISOString(),
  };
  const steps = await runChain<RetryExecutionInput, RetryTaskInput>(
    synthesizeRetryDefinition(),
    first,
    (task) =>
      task.retry >= sentAt || task.retry >= RETRY_COUNT
        ? undefined
        : { ...first, retry: task.retry + 1 },
  );
  return {
    transitions: steps.reduce((n, s) => n + s.run.transitions, 0),
    historyEvents: steps.reduce((n, s) => n + s.run.historyEvents, 0),
    taskInvocations: steps.length,
    executions: steps.length,
  };
}

export async function countAllTransitions(): Promise<Record<RetryOutcome, MachineCount>> {
  const out = {} as Record<RetryOutcome, MachineCount>;
  for (const o of RETRY_OUTCOMES) out[o] = await countTransitions(o);
  return out;
}

/**
 * Runs the synthesized health machine (a stand-in step that is done after `steps`) for one and
 * for three steps: what one more step costs, and what an execution costs besides its steps.
 */
export async function countHealthTransitions(): Promise<HealthMachineCount> {
  const run = async (steps: number) => {
    const driver: HealthDriverInput = { webhookId: 'wh_COST', seq: 0, steps: 0 };
    return runExecution(synthesizeHealthDefinition(), driver, async (input) => {
      const done = (input as HealthTaskInput).steps + 1 >= steps;
      return {
        ...driver,
        steps: (input as HealthTaskInput).steps + 1,
        done,
        wakeAt: new Date().toISOString(),
      };
    });
  };
  const [one, three] = [await run(1), await run(3)];
  const transitionsPerStep = (three.transitions - one.transitions) / 2;
  const historyEventsPerStep = (three.historyEvents - one.historyEvents) / 2;
  return {
    transitionsPerStep,
    transitionsPerExecution: one.transitions - transitionsPerStep,
    historyEventsPerStep,
    historyEventsPerExecution: one.historyEvents - historyEventsPerStep,
  };
}

// ---- DynamoDB units per path ---------------------------------------------------------------------

export interface MeasuredPath extends PathUnits {
  /** Units by the estimate of bench/support/dynamo-meter.ts (item sizes), beside what DynamoDB reported. */
  readonly estimatedWru: number;
  readonly ops: string[];
}

const recordingScheduler = (): RetryScheduler & { starts: RetryStart[] } => {
  const starts: RetryStart[] = [];
  return {
    starts,
    async start(input) {
      starts.push(input);
    },
  };
};

function definitionFor(receiverUrl: string, outcome: 'sent' | RetryOutcome, id: string) {
  return referenceDefinition(`${receiverUrl}/fail-${failuresOf(outcome)}`, id);
}

export type DynamoPaths = Record<'sent' | 'parked' | RetryOutcome, MeasuredPath>;

/**
 * One notification per path through the real DynamoDB adapters against DynamoDB Local:
 * sent at the first attempt; retried and sent at retry k (or never); parked (created WAITING
 * without an attempt, as while a circuit is open) and later sent by one attempt.
 */
export interface DynamoMeasure {
  readonly paths: DynamoPaths;
  /** The reference webhook's compression dictionary item: its write and the bytes it keeps. */
  readonly dictionary: { readonly wru: number; readonly tableBytes: number };
}

export async function measureDynamo(
  opts: BenchOptions,
  receiverUrl: string,
): Promise<DynamoMeasure> {
  const standIns = await startStandIns({ prefix: 'cost-' });
  const stop = opts.procs.defer('cost stand-ins', () => standIns.stop());
  const sender = createHttpSender({ policy: LOOPBACK_POLICY });
  try {
    const metered = createAwsClients(standIns.env).dynamo;
    const meter: Meter = meterDynamo(
      metered,
      standIns.clients.dynamo,
      standIns.tables.notifications,
    );
    const scheduler = recordingScheduler();
    const webhooks = new DynamoWebhookStore(
      metered,
      standIns.tables.webhooks,
      standInCipher(standIns),
    );
    const notifications = new DynamoNotificationStore(
      metered,
      standIns.tables.notifications,
      fixedCursorKey(),
      webhooks,
    );
    const payloads = new DynamoPayloadStore(metered, standIns.tables.payloads);
    const renderer = new Renderer();
    const service = new DeliveryService({
      webhooks: new CachedWebhookStore(webhooks, 30_000),
      notifications,
      payloads,
      resendJobs: new MemoryResendJobStore(),
      queue: new MemoryDeliveryQueue(),
      scheduler,
      sender,
      renderer,
      clock: { now: () => new Date() },
      observer: SILENT_DELIVERY_OBSERVER,
      settings: { schedule: DEFAULT_RETRY_SCHEDULE_SECONDS, timeScale: 1, retentionDays: 90 },
    });
    const result = {} as DynamoPaths;
    const paths = ['sent', ...RETRY_OUTCOMES, 'parked'] as const;
    for (const [k, path] of paths.entries()) {
      // Ids as long as real ones (they are stored several times per notification).
      const def = definitionFor(
        receiverUrl,
        path === 'parked' ? 'sent' : path,
        fullLengthId('wh_', `COSTMODEL${k}`),
      );
      await webhooks.put(def);
      // Warm the definition cache: its reads are shared by every notification for 30 s.
      const warm = referenceEvent(900 + k, fullLengthId('evt_', `COSTWARM${k}`));
      await service.handleJob({
        kind: 'deliver',
        notificationId: notificationIdFor(def.id, warm.id),
        webhookId: def.id,
        event: warm,
      });
      meter.reset();
      const event = referenceEvent(k, fullLengthId('evt_', `COSTEVENT${k}`));
      const id = notificationIdFor(def.id, event.id);
      if (path === 'parked') await park(id, def, event);
      else {
        await service.handleJob({
          kind: 'deliver',
          notificationId: id,
          webhookId: def.id,
          event,
        });
        if (path !== 'sent') {
          // As the chain runs them: the fifth failed retry marks the notification FAILED itself.
          for (let retry = 1; retry <= RETRY_COUNT; retry++) {
            const out = await service.retry({ notificationId: id, retry });
            if (out.done) break;
          }
        }
      }
      const ops = meter.ops.filter((o) => o.table !== standIns.tables.webhooks);
      const itemBytes =
        (meter.sizes.get(`${standIns.tables.notifications}/${id}`) ?? 0) +
        (meter.sizes.get(`${standIns.tables.payloads}/${id}`) ?? 0);
      const indexBytes = meter.indexSizes.get(`${standIns.tables.notifications}/${id}`) ?? 0;
      const writes = ops.filter((o) => o.rru === 0 && o.command !== 'GetItem');
      const reads = ops.filter((o) => o.command === 'GetItem' || o.command === 'Query');
      const ofPayloads = (list: typeof ops) =>
        list
          .filter((o) => o.table === standIns.tables.payloads)
          .reduce((a, o) => a + o.consumed, 0);
      result[path] = {
        wru: writes.reduce((a, o) => a + o.consumed, 0),
        indexWru: writes.reduce((a, o) => a + o.consumedIndexes, 0),
        rru: reads.reduce((a, o) => a + o.consumed, 0),
        estimatedWru: writes.reduce((a, o) => a + o.wru + o.indexWru, 0),
        tableBytes: itemBytes + 2 * ITEM_OVERHEAD,
        storedBytes: itemBytes + 2 * ITEM_OVERHEAD + indexBytes,
        payloads: {
          wru: ofPayloads(writes),
          rru: ofPayloads(reads),
          tableBytes: (meter.sizes.get(`${standIns.tables.payloads}/${id}`) ?? 0) + ITEM_OVERHEAD,
        },
        ops: ops.map(
          (o) =>
            `${o.command} ${o.table.replace(/^cost-/, '')} ${o.itemBytesAfter} B: ${o.consumed} units (${o.consumedIndexes} indexes)`,
        ),
      };
      opts.log(
        `DynamoDB ${path}: ${result[path].wru} WRU (${result[path].indexWru} indexes; estimate ${result[path].estimatedWru}), ${result[path].rru} RRU, ${result[path].storedBytes} B stored`,
      );
    }
    // Each path's webhook has its own dictionary (its URL names the path); the largest is counted.
    const dictionaries = [...meter.sizes.entries()]
      .filter(([ref]) => ref.startsWith(`${standIns.tables.payloads}/${DICTIONARY_ID_PREFIX}`))
      .map(([, bytes]) => bytes);
    if (dictionaries.length === 0) throw new Error('no dictionary item was written');
    const dictionaryBytes = Math.max(...dictionaries);
    opts.log(`DynamoDB dictionary item: ${dictionaryBytes} B (one per webhook and 30 days)`);
    return {
      paths: result,
      dictionary: {
        wru: Math.ceil(dictionaryBytes / 1024),
        tableBytes: dictionaryBytes + ITEM_OVERHEAD,
      },
    };

    /** Stored and parked without an attempt, then released: one attempt with the stored request. */
    async function park(id: string, def: WebhookDefinition, event: EventEnvelope): Promise<void> {
      const now = new Date();
      const expires = Math.floor(now.getTime() / 1000) + 90 * 86_400;
      // As the delivery service stores it: with the definition's templates (their dictionary).
      const request = renderer.render(def, buildRenderContext(def, event, id));
      await payloads.putOnce(id, request, expires, undefined, def);
      // waitingReason is the destination-health field; stores without it ignore it.
      const parked = {
        id,
        webhookId: def.id,
        eventId: event.id,
        eventType: event.type,
        createdAt: now.toISOString(),
        status: 'WAITING',
        failureReason: null,
        attempts: [],
        nextAttemptAt: null,
        waitingReason: 'CIRCUIT_OPEN',
      } as Notification;
      await notifications.create(parked, expires);
      await service.handleJob({ kind: 'resend', notificationId: id });
    }
  } finally {
    await sender.close();
    await stop();
  }
}

// ---- log bytes ---------------------------------------------------------------------------------

/** Runs the delivery and attempt handlers with the real Powertools logger and metrics, capturing stdout. */
export async function measureLogs(receiverUrl: string, batchSize: number): Promise<LogBytes> {
  const sender = createHttpSender({ policy: LOOPBACK_POLICY });
  const logger = new Logger({ serviceName: 'webhooks' });
  const metrics = new Metrics({ namespace: 'Webhooks', serviceName: 'webhooks' });
  const webhooks = new MemoryWebhookStore();
  const service = new DeliveryService({
    webhooks: new CachedWebhookStore(webhooks, 30_000),
    notifications: new MemoryNotificationStore(),
    payloads: new MemoryPayloadStore(),
    resendJobs: new MemoryResendJobStore(),
    queue: new MemoryDeliveryQueue(),
    scheduler: recordingScheduler(),
    sender,
    renderer: new Renderer(),
    clock: { now: () => new Date() },
    observer: createDeliveryObserver(logger, metrics),
    settings: { schedule: DEFAULT_RETRY_SCHEDULE_SECONDS, timeScale: 1, retentionDays: 90 },
  });
  const delivery = createDeliveryHandler({ service, logger, metrics, concurrency: 16 });
  const attempt = createAttemptHandler({ service, metrics });
  // Both streams: the logger writes warnings and errors to stderr; Lambda keeps both.
  const capture = async (fn: () => Promise<unknown>): Promise<number> => {
    const streams = [process.stdout, process.stderr] as const;
    const writes = streams.map((s) => s.write.bind(s));
    let bytes = 0;
    for (const stream of streams) {
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        cb?.();
        return true;
      }) as typeof stream.write;
    }
    try {
      await fn();
    } finally {
      streams.forEach((s, i) => {
        s.write = required(writes[i], 'writes[i]');
      });
    }
    return bytes;
  };
  let batch = 0;
  const deliverBatch = async (outcome: 'sent' | RetryOutcome, level: string) => {
    const k = batch++;
    const def = definitionFor(receiverUrl, outcome, fullLengthId('wh_', `COSTLOGS${k}`));
    await webhooks.put(def);
    const ids: string[] = [];
    const records = Array.from({ length: batchSize }, (_, i) => {
      const event = referenceEvent(i, fullLengthId('evt_', `LOG${k}X${i}`));
      const id = notificationIdFor(def.id, event.id);
      ids.push(id);
      const job: DeliveryJob = { kind: 'deliver', notificationId: id, webhookId: def.id, event };
      return {
        messageId: `m${k}-${i}`,
        receiptHandle: 'r',
        body: JSON.stringify(job),
        attributes: { SentTimestamp: String(Date.now()) },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:webhooks-delivery',
        awsRegion: 'us-east-1',
      };
    });
    logger.setLogLevel(level as never);
    try {
      const bytes = await capture(() => delivery({ Records: records } as unknown as SQSEvent));
      return { perNotification: bytes / batchSize, ids };
    } finally {
      logger.setLogLevel('INFO');
    }
  };
  try {
    const unsampled = await deliverBatch('sent', 'INFO');
    const sampled = await deliverBatch('sent', 'DEBUG');
    const recovering = await deliverBatch('retry1', 'INFO');
    const failing = await deliverBatch('exhausted', 'INFO');
    const recoveredId = required(recovering.ids[0], 'recovering.ids[0]');
    const failedId = required(failing.ids[0], 'failing.ids[0]');
    const retry = (notificationId: string, k: number) =>
      capture(() => attempt({ action: 'retry', notificationId, retry: k }));
    const recovered = await retry(recoveredId, 1);
    const failed = await retry(failedId, 1);
    for (let k = 2; k < RETRY_COUNT; k++) await retry(failedId, k);
    const lastFailed = await retry(failedId, RETRY_COUNT);
    return {
      sentUnsampled: unsampled.perNotification,
      sentSampled: sampled.perNotification,
      firstFailed: recovering.perNotification,
      attemptRecovered: recovered,
      attemptFailed: failed,
      lastFailed,
    };
  } finally {
    await sender.close();
  }
}

// ---- bytes on the wire --------------------------------------------------------------------------

/**
 * Bytes of one attempt of the reference webhook on the wire: the request exactly as the engine
 * renders and signs it, sent by the real sender over TLS (support/tls-wire.ts), with a full
 * handshake and with a resumed session, with the key exchange the sender offers (by default the
 * hybrid post-quantum group first on new sessions; `hybridEveryHandshake` and `classical` for
 * the what-ifs and stacks deployed so).
 */
export async function measureWire(
  def: WebhookDefinition,
  a: {
    responseHeaderBytes: number;
    keyExchange?: TlsKeyExchange;
    predictKeyShares?: boolean;
    receiverGroups?: string;
  },
): Promise<TlsWire> {
  const id = fullLengthId('ntf_', 'WIRE');
  const req = new Renderer().render(def, buildRenderContext(def, referenceEvent(3), id));
  return measureTlsWire(
    { ...req, headers: { ...req.headers, ...sendTimeHeaders(def, id, new Date(), req.body) } },
    a,
  );
}
