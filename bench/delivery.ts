/**
 * Delivery path throughput, in this process, against a loopback receiver in a separate
 * process, at concurrency 64, beside raw undici Pool.request POSTs of the same requests to the
 * same receiver, measured alternately in the same run:
 *  - deliveryRatioMemory: the attempt path retries and resends take (DeliveryService resend:
 *    stored request loaded, egress check, signing + Basic Auth, undici send, attempt and status
 *    written through the store port), in-memory stores.
 *  - firstAttemptRatioMemory: the first-attempt path (deliver job: render the reference template,
 *    write-once payload, attempt, create the notification), in-memory stores.
 *  - deliveryRatioDynamo: the attempt path with DynamoDB Local stores.
 */
import { Pool } from 'undici';
import { fixedCursorKey } from '../lambdas/adapters/cursor-key';
import {
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoWebhookStore,
} from '../lambdas/adapters/dynamo-stores';
import { createHttpSender } from '../lambdas/adapters/http-sender';
import { CachedWebhookStore } from '../lambdas/core/definition-cache';
import { DeliveryService } from '../lambdas/core/delivery';
import type {
  DeliveryJob,
  Notification,
  RenderedRequest,
  WebhookDefinition,
} from '../lambdas/core/model';
import { Renderer } from '../lambdas/core/render';
import { buildRenderContext } from '../lambdas/core/render-context';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../lambdas/core/retry-schedule';
import { sendTimeHeaders } from '../lambdas/core/signing';
import type { NotificationStore, PayloadStore, WebhookStore } from '../lambdas/ports';
import { standInCipher, startStandIns } from '../local/standins';
import {
  MemoryDeliveryQueue,
  MemoryNotificationStore,
  MemoryPayloadStore,
  MemoryResendJobStore,
  MemoryWebhookStore,
} from '../test/support/memory-stores';
import { SILENT_DELIVERY_OBSERVER } from '../test/support/silent-observers';
import { referenceDefinition, referenceEvent } from './fixtures/reference';
import { closedLoop, combine, type LoadResult } from './support/load';
import { type ProfileSummary, profileAsync } from './support/profile';
import { startReceiverProcess } from './support/receiver';
import { round } from './support/stats';
import type { Benchmark, BenchOptions, BenchResult, Row } from './support/types';

export const CONCURRENCY = 64;
const GOAL_RATIO = 0.8;
const LOOPBACK_POLICY = { allowHttp: true, allowCidrs: ['127.0.0.0/8'] };
/** Definitions are cached in the Lambdas (DEFINITION_CACHE_TTL_SECONDS, default 30). */
const DEFINITION_CACHE_TTL_MS = 30_000;

export interface Stores {
  readonly webhooks: WebhookStore;
  readonly notifications: NotificationStore;
  readonly payloads: PayloadStore;
}

export function createService(
  stores: Stores,
  sender: ReturnType<typeof createHttpSender>,
  observer = SILENT_DELIVERY_OBSERVER,
): DeliveryService {
  return new DeliveryService({
    webhooks: new CachedWebhookStore(stores.webhooks, DEFINITION_CACHE_TTL_MS),
    notifications: stores.notifications,
    payloads: stores.payloads,
    resendJobs: new MemoryResendJobStore(),
    queue: new MemoryDeliveryQueue(),
    scheduler: {
      start: async () => {
        throw new Error('the benchmark receiver answers 200: no retry should be scheduled');
      },
    },
    sender,
    renderer: new Renderer(),
    clock: { now: () => new Date() },
    observer,
    settings: { schedule: DEFAULT_RETRY_SCHEDULE_SECONDS, timeScale: 1, retentionDays: 90 },
  });
}

export function notificationIdOf(i: number): string {
  return `ntf_BENCH${i.toString(36).toUpperCase().padStart(17, '0')}`;
}

/** Stores `count` sent notifications with their rendered requests, as the first attempt leaves them. */
export async function seedNotifications(
  stores: Stores,
  def: WebhookDefinition,
  count: number,
  concurrency: number,
): Promise<void> {
  const renderer = new Renderer();
  const expiresAt = Math.floor(Date.now() / 1000) + 90 * 86_400;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const id = notificationIdOf(i);
      const event = referenceEvent(i);
      const request = renderer.render(def, buildRenderContext(def, event, id));
      const now = new Date().toISOString();
      const notification: Notification = {
        id,
        webhookId: def.id,
        eventId: event.id,
        eventType: event.type,
        createdAt: now,
        status: 'SENT',
        failureReason: null,
        attempts: [
          {
            number: 1,
            trigger: 'initial',
            startedAt: now,
            durationMs: 2,
            statusCode: 200,
            outcome: 'SENT',
            error: null,
            responseBody: '',
          },
        ],
        nextAttemptAt: null,
      };
      await stores.payloads.putOnce(id, request, expiresAt);
      await stores.notifications.create(notification, expiresAt);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** The request as the sender puts it on the wire (stored request + send-time headers). */
function wireRequest(def: WebhookDefinition): RenderedRequest {
  const id = notificationIdOf(0);
  const request = new Renderer().render(def, buildRenderContext(def, referenceEvent(0), id));
  return {
    ...request,
    headers: { ...request.headers, ...sendTimeHeaders(def, id, new Date(), request.body) },
  };
}

function rawSender(receiverUrl: string, request: RenderedRequest) {
  const pool = new Pool(receiverUrl);
  const url = new URL(request.url);
  const path = url.pathname + url.search;
  return {
    pool,
    async send(): Promise<void> {
      const res = await pool.request({
        method: request.method,
        path,
        headers: request.headers,
        body: request.body,
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`receiver answered ${res.statusCode}`);
    },
  };
}

function loadRow(
  label: string,
  key: string,
  path: LoadResult,
  raw: LoadResult,
  goal?: number,
): Row {
  const ratio = path.opsPerSecond / raw.opsPerSecond;
  return {
    label,
    key,
    value: round(ratio),
    unit: 'x raw',
    reference: `${Math.round(path.opsPerSecond)}/s vs raw undici ${Math.round(raw.opsPerSecond)}/s`,
    ...(goal === undefined ? {} : { goal: `>= ${goal}`, met: ratio >= goal }),
  };
}

function describe(r: LoadResult) {
  return {
    opsPerSecond: Math.round(r.opsPerSecond),
    ops: r.ops,
    errors: r.errors,
    seconds: round(r.seconds),
    cpuUsPerOp: round(r.cpuUsPerOp),
    ...(r.firstError ? { firstError: r.firstError } : {}),
  };
}

export const deliveryBenchmark: Benchmark = {
  name: 'delivery',
  title: `Delivery path vs raw undici, concurrency ${CONCURRENCY}, loopback receiver in its own process`,
  async run(opts: BenchOptions): Promise<BenchResult> {
    const segmentMs = opts.quick ? 1500 : 5000;
    const segments = 2; // 2 x 5 s = 10 s per figure, alternating with the reference
    const warmMs = opts.quick ? 500 : 1500;
    const receiver = await startReceiverProcess(opts.procs);
    opts.log(`receiver pid ${receiver.pid} on ${receiver.url}`);
    const def = referenceDefinition(receiver.url);
    const raw = rawSender(receiver.url, wireRequest(def));
    const sender = createHttpSender({ policy: LOOPBACK_POLICY });
    const notes: string[] = [];
    const details: Record<string, unknown> = {};
    const figures: Record<string, number> = {};
    const rows: Row[] = [];
    try {
      // Memory stores: resend (attempt path) over seeded notifications, deliver over fresh events.
      const stores: Stores = {
        webhooks: new MemoryWebhookStore(),
        notifications: new MemoryNotificationStore(),
        payloads: new MemoryPayloadStore(),
      };
      await stores.webhooks.put(def);
      // Each seeded notification takes a few resends; attempts accumulate on it as they would.
      const seeded = opts.quick ? 10_000 : 40_000;
      await seedNotifications(stores, def, seeded, 8);
      const service = createService(stores, sender);
      const resend = (i: number) =>
        service.handleJob({ kind: 'resend', notificationId: notificationIdOf(i % seeded) });
      const event = referenceEvent(1);
      const deliver = (i: number) => {
        const job: DeliveryJob = {
          kind: 'deliver',
          notificationId: `ntf_FIRST${i.toString(36).toUpperCase().padStart(17, '0')}`,
          webhookId: def.id,
          event: { ...event, id: `evt_FIRST${i}` },
        };
        return service.handleJob(job);
      };

      // Warm-up: connections open, code JIT-compiled.
      await closedLoop(CONCURRENCY, warmMs, () => raw.send());
      let resendIndex = (await closedLoop(CONCURRENCY, warmMs, resend)).nextIndex;
      let deliverIndex = (await closedLoop(CONCURRENCY, warmMs, deliver, 1_000_000_000)).nextIndex;

      const rawRuns: LoadResult[] = [];
      const resendRuns: LoadResult[] = [];
      const deliverRuns: LoadResult[] = [];
      for (let s = 0; s < segments; s++) {
        rawRuns.push(await closedLoop(CONCURRENCY, segmentMs, () => raw.send()));
        const r = await closedLoop(CONCURRENCY, segmentMs, resend, resendIndex);
        resendIndex = r.nextIndex;
        resendRuns.push(r);
        const d = await closedLoop(CONCURRENCY, segmentMs, deliver, deliverIndex);
        deliverIndex = d.nextIndex;
        deliverRuns.push(d);
      }
      const rawAll = combine(rawRuns);
      const resendAll = combine(resendRuns);
      const deliverAll = combine(deliverRuns);
      opts.log(
        `raw undici ${Math.round(rawAll.opsPerSecond)}/s (${round(rawAll.cpuUsPerOp)} us CPU/op)`,
      );
      opts.log(
        `attempt path, memory ${Math.round(resendAll.opsPerSecond)}/s (${round(resendAll.cpuUsPerOp)} us CPU/op)`,
      );
      opts.log(
        `first attempt, memory ${Math.round(deliverAll.opsPerSecond)}/s (${round(deliverAll.cpuUsPerOp)} us CPU/op)`,
      );
      figures.deliveryRatioMemory = round(resendAll.opsPerSecond / rawAll.opsPerSecond);
      figures.firstAttemptRatioMemory = round(deliverAll.opsPerSecond / rawAll.opsPerSecond);
      figures['deliveryCpuUsPerOp.raw'] = round(rawAll.cpuUsPerOp);
      figures['deliveryCpuUsPerOp.attemptMemory'] = round(resendAll.cpuUsPerOp);
      figures['deliveryCpuUsPerOp.firstAttemptMemory'] = round(deliverAll.cpuUsPerOp);
      rows.push(
        loadRow(
          'Attempt path (resend), memory stores',
          'deliveryRatioMemory',
          resendAll,
          rawAll,
          GOAL_RATIO,
        ),
      );
      rows.push(
        loadRow(
          'First attempt (render + send), memory stores',
          'firstAttemptRatioMemory',
          deliverAll,
          rawAll,
        ),
      );
      details.raw = describe(rawAll);
      details.attemptMemory = describe(resendAll);
      details.firstAttemptMemory = describe(deliverAll);
      details.segments = {
        count: segments,
        ms: segmentMs,
        order: 'raw, attempt, first attempt; repeated',
      };
      if (resendAll.errors + deliverAll.errors + rawAll.errors > 0) {
        notes.push(
          `errors during the run: raw ${rawAll.errors}, attempt ${resendAll.errors}, first ${deliverAll.errors} (${resendAll.firstError ?? deliverAll.firstError ?? rawAll.firstError})`,
        );
      }

      if (opts.profile || figures.deliveryRatioMemory < GOAL_RATIO) {
        const profiled = await profileAsync('delivery-attempt-memory', () =>
          closedLoop(CONCURRENCY, opts.quick ? 1500 : 4000, resend, resendIndex),
        );
        details.profileAttemptMemory = profiled.summary;
        printProfile(opts, 'attempt path (memory)', profiled.summary);
        const first = await profileAsync('delivery-first-attempt-memory', () =>
          closedLoop(CONCURRENCY, opts.quick ? 1500 : 4000, deliver, deliverIndex),
        );
        details.profileFirstAttemptMemory = first.summary;
        printProfile(opts, 'first attempt (memory)', first.summary);
      }

      // DynamoDB Local stores: the same attempt path.
      const dynamo = await runDynamo(opts, def, sender, raw, segmentMs, warmMs);
      figures.deliveryRatioDynamo = round(dynamo.path.opsPerSecond / dynamo.raw.opsPerSecond);
      figures['deliveryCpuUsPerOp.attemptDynamo'] = round(dynamo.path.cpuUsPerOp);
      rows.push(
        loadRow(
          'Attempt path (resend), DynamoDB Local stores',
          'deliveryRatioDynamo',
          dynamo.path,
          dynamo.raw,
        ),
      );
      details.rawBesideDynamo = describe(dynamo.raw);
      details.attemptDynamo = describe(dynamo.path);
      details.dynamoSeeded = dynamo.seeded;
      notes.push(
        'DynamoDB Local is a single Java process on this 2-core machine (a few hundred writes/s), far slower than DynamoDB: deliveryRatioDynamo says little about AWS.',
      );
      const received = await receiver.count();
      details.receiverRequests = received;
    } finally {
      await raw.pool.close();
      await sender.close();
      await receiver.stop();
    }
    return { figures, rows, details, notes };
  },
};

function printProfile(opts: BenchOptions, what: string, summary: ProfileSummary): void {
  opts.log(`profile of the ${what} (${summary.totalMs} ms sampled, ${summary.file}):`);
  opts.log(
    `  by area: ${Object.entries(summary.byArea)
      .map(([k, v]) => `${k} ${v}%`)
      .join(', ')}`,
  );
  for (const f of summary.topFunctions.slice(0, 12))
    opts.log(`  ${String(f.selfPct).padStart(5)}%  ${f.where}`);
}

async function runDynamo(
  opts: BenchOptions,
  def: WebhookDefinition,
  sender: ReturnType<typeof createHttpSender>,
  raw: ReturnType<typeof rawSender>,
  segmentMs: number,
  warmMs: number,
): Promise<{ path: LoadResult; raw: LoadResult; seeded: number }> {
  const standIns = await startStandIns({ prefix: 'bench-' });
  const stop = opts.procs.defer('stand-ins', () => standIns.stop());
  try {
    opts.log(
      `DynamoDB Local up in ${standIns.startMs} ms (host pid ${standIns.pids.host}, java pid ${standIns.pids.dynamo})`,
    );
    const { dynamo } = standIns.clients;
    const webhooks = new DynamoWebhookStore(
      dynamo,
      standIns.tables.webhooks,
      standInCipher(standIns),
    );
    const stores: Stores = {
      webhooks,
      notifications: new DynamoNotificationStore(
        dynamo,
        standIns.tables.notifications,
        fixedCursorKey(),
        webhooks,
      ),
      payloads: new DynamoPayloadStore(dynamo, standIns.tables.payloads),
    };
    await stores.webhooks.put(def);
    const seeded = opts.quick ? 300 : 1000;
    const t0 = performance.now();
    await seedNotifications(stores, def, seeded, 32);
    opts.log(
      `seeded ${seeded} notifications in DynamoDB Local in ${Math.round(performance.now() - t0)} ms`,
    );
    const service = createService(stores, sender);
    const resend = (i: number) =>
      service.handleJob({ kind: 'resend', notificationId: notificationIdOf(i % seeded) });
    let index = (await closedLoop(CONCURRENCY, warmMs, resend)).nextIndex;
    const rawRuns: LoadResult[] = [];
    const runs: LoadResult[] = [];
    for (let s = 0; s < 2; s++) {
      rawRuns.push(await closedLoop(CONCURRENCY, segmentMs / 2, () => raw.send()));
      const r = await closedLoop(CONCURRENCY, segmentMs, resend, index);
      index = r.nextIndex;
      runs.push(r);
    }
    const path = combine(runs);
    const rawAll = combine(rawRuns);
    opts.log(
      `attempt path, DynamoDB Local ${Math.round(path.opsPerSecond)}/s (${round(path.cpuUsPerOp)} us CPU/op in this process)`,
    );
    return { path, raw: rawAll, seeded };
  } finally {
    await stop();
  }
}
