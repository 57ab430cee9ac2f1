/**
 * Health bookkeeping on the happy path: the DynamoDB units destination health adds to a
 * notification sent at its first attempt to a healthy webhook, as DynamoDB Local reports them
 * (ReturnConsumedCapacity INDEXES), beside the units of the same path with health bookkeeping
 * off, measured in the same run.
 *
 * Two delivery engines over the same DynamoDB adapters (DynamoDB Local), one wired with the
 * health gate as the Lambdas wire it (DynamoHealthStore, HEALTH_CACHE_TTL_SECONDS 5,
 * HEALTH_COUNT_FLUSH_SECONDS 10), one without; rounds alternate between them for a fixed time
 * (longer than both periods, so the amortized record reads and counter flushes are in the
 * figures). The health store has its own metered client: its units are health's alone.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createAwsClients } from '../lambdas/adapters/aws-clients';
import { fixedCursorKey } from '../lambdas/adapters/cursor-key';
import { DynamoHealthStore } from '../lambdas/adapters/dynamo-health';
import {
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoWebhookStore,
} from '../lambdas/adapters/dynamo-stores';
import { createHttpSender } from '../lambdas/adapters/http-sender';
import { forEachBounded } from '../lambdas/core/concurrency';
import { CachedWebhookStore } from '../lambdas/core/definition-cache';
import { DeliveryService } from '../lambdas/core/delivery';
import { HealthGate } from '../lambdas/core/health/gate';
import { DEFAULT_HEALTH_SETTINGS } from '../lambdas/core/health/model';
import { Renderer } from '../lambdas/core/render';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../lambdas/core/retry-schedule';
import type {
  HealthDriverScheduler,
  HealthObserver,
  HealthStore,
  RetryScheduler,
} from '../lambdas/ports';
import { standInCipher, startStandIns } from '../local/standins';
import { MemoryDeliveryQueue, MemoryResendJobStore } from '../test/support/memory-stores';
import { SILENT_DELIVERY_OBSERVER } from '../test/support/silent-observers';
import { referenceDefinition, referenceEvent } from './fixtures/reference';
import { type Meter, meterDynamo } from './support/dynamo-meter';
import { startReceiverProcess } from './support/receiver';
import { round } from './support/stats';
import type { Benchmark, BenchOptions, BenchResult, Row } from './support/types';

const LOOPBACK_POLICY = { allowHttp: true, allowCidrs: ['127.0.0.0/8'] };
/** The Lambdas' defaults (lambdas/config.ts). */
const CACHE_TTL_MS = 5_000;
const COUNT_FLUSH_MS = 10_000;
const ROUND = 40;
const CONCURRENCY = 8;

const noop = () => undefined;
const quietHealth: HealthObserver = {
  parked: noop,
  released: noop,
  circuitOpened: noop,
  circuitClosed: noop,
  webhookDisabled: noop,
  stepFailed: noop,
  heartbeat: noop,
  driverRestarted: noop,
};

/** Which health store calls write, by name (the record itself vs the minute counters). */
function countingHealthStore(inner: HealthStore): HealthStore & { calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const count = <T>(name: string, p: Promise<T>): Promise<T> => {
    calls.set(name, (calls.get(name) ?? 0) + 1);
    return p;
  };
  return {
    calls,
    get: (id) => count('get', inner.get(id)),
    addFailure: (id, now) => count('addFailure', inner.addFailure(id, now)),
    resetFailures: (id) => count('resetFailures', inner.resetFailures(id)),
    transition: (next, v) => count('transition', inner.transition(next, v)),
    slowDown: (id, until) => count('slowDown', inner.slowDown(id, until)),
    markWanted: (id, now) => count('markWanted', inner.markWanted(id, now)),
    beat: (id, seq, now) => count('beat', inner.beat(id, seq, now)),
    addCounts: (id, at, c) => count('addCounts', inner.addCounts(id, at, c)),
    readCounts: (id, f, t) => count('readCounts', inner.readCounts(id, f, t)),
    reserveSlots: (...args) => count('reserveSlots', inner.reserveSlots(...args)),
  };
}

interface Units {
  wru: number;
  rru: number;
}

function unitsOf(meter: Meter, skipTable?: string): Units {
  let wru = 0;
  let rru = 0;
  for (const op of meter.ops) {
    if (op.table === skipTable) continue;
    if (op.command === 'GetItem' || op.command === 'Query' || op.command === 'BatchGetItem')
      rru += op.consumed;
    else wru += op.consumed;
  }
  return { wru, rru };
}

export const healthBenchmark: Benchmark = {
  name: 'health',
  title:
    'Destination health on the happy path: DynamoDB units added per notification (DynamoDB Local)',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const durationMs = opts.quick ? 12_000 : 25_000;
    const receiver = await startReceiverProcess(opts.procs);
    const standIns = await startStandIns({ prefix: 'health-' });
    const stopStandIns = opts.procs.defer('health stand-ins', () => standIns.stop());
    const sender = createHttpSender({ policy: LOOPBACK_POLICY });
    try {
      const pathClient: DynamoDBClient = createAwsClients(standIns.env).dynamo;
      const healthClient: DynamoDBClient = createAwsClients(standIns.env).dynamo;
      const pathMeter = meterDynamo(
        pathClient,
        standIns.clients.dynamo,
        standIns.tables.notifications,
      );
      const healthMeter = meterDynamo(
        healthClient,
        standIns.clients.dynamo,
        standIns.tables.notifications,
      );
      const healthStore = countingHealthStore(
        new DynamoHealthStore(healthClient, standIns.tables.notifications),
      );
      const webhookStore = new DynamoWebhookStore(
        pathClient,
        standIns.tables.webhooks,
        standInCipher(standIns),
      );
      const scheduler: RetryScheduler & HealthDriverScheduler = {
        start: async () => undefined,
        startDriver: async () => undefined,
      };
      const gate = new HealthGate({
        store: healthStore,
        scheduler,
        clock: { now: () => new Date() },
        settings: { ...DEFAULT_HEALTH_SETTINGS, cacheTtlMs: CACHE_TTL_MS },
        observer: quietHealth,
        countFlushMs: COUNT_FLUSH_MS,
      });
      const engine = (withHealth: boolean) =>
        new DeliveryService({
          webhooks: new CachedWebhookStore(webhookStore, 30_000),
          notifications: new DynamoNotificationStore(
            pathClient,
            standIns.tables.notifications,
            fixedCursorKey(),
            webhookStore,
          ),
          payloads: new DynamoPayloadStore(pathClient, standIns.tables.payloads),
          resendJobs: new MemoryResendJobStore(),
          queue: new MemoryDeliveryQueue(),
          scheduler,
          sender,
          clock: { now: () => new Date() },
          observer: SILENT_DELIVERY_OBSERVER,
          settings: { schedule: DEFAULT_RETRY_SCHEDULE_SECONDS, timeScale: 1, retentionDays: 90 },
          renderer: new Renderer(),
          ...(withHealth ? { health: gate } : {}),
        });
      const sides = {
        on: { service: engine(true), webhookId: 'wh_HEALTHON', n: 0, units: { wru: 0, rru: 0 } },
        off: { service: engine(false), webhookId: 'wh_HEALTHOFF', n: 0, units: { wru: 0, rru: 0 } },
      };
      for (const side of Object.values(sides)) {
        await webhookStore.put(referenceDefinition(`${receiver.url}/fail-0`, side.webhookId));
        // Warm the definition cache (its reads are shared by every notification for 30 s).
        await side.service.handleJob({
          kind: 'deliver',
          notificationId: `ntf_${side.webhookId}WARM`,
          webhookId: side.webhookId,
          event: referenceEvent(0),
        });
      }
      // The health side starts cold: its first record read and first flush are in the figures.
      gate.forget(sides.on.webhookId);
      healthStore.calls.clear();
      healthMeter.reset();
      let healthUnits: Units = { wru: 0, rru: 0 };
      const healthOps = new Map<string, number>();

      let seq = 0;
      const t0 = performance.now();
      let rounds = 0;
      while (performance.now() - t0 < durationMs || rounds % 2 === 1) {
        const side = rounds % 2 === 0 ? sides.on : sides.off;
        rounds++;
        const ids = Array.from({ length: ROUND }, () => `ntf_${side.webhookId}${seq++}`);
        pathMeter.reset();
        await forEachBounded(ids, CONCURRENCY, (id, i) =>
          side.service.handleJob({
            kind: 'deliver',
            notificationId: id,
            webhookId: side.webhookId,
            event: referenceEvent(seq + i),
          }),
        );
        const u = unitsOf(pathMeter, standIns.tables.webhooks);
        side.units.wru += u.wru;
        side.units.rru += u.rru;
        side.n += ids.length;
      }
      const elapsedS = (performance.now() - t0) / 1000;
      healthUnits = unitsOf(healthMeter);
      for (const op of healthMeter.ops)
        healthOps.set(op.command, (healthOps.get(op.command) ?? 0) + 1);
      const recordWrites = [
        'addFailure',
        'resetFailures',
        'transition',
        'slowDown',
        'markWanted',
        'beat',
      ]
        .map((m) => healthStore.calls.get(m) ?? 0)
        .reduce((a, b) => a + b, 0);
      const flushes = healthStore.calls.get('addCounts') ?? 0;
      const recordReads = healthStore.calls.get('get') ?? 0;

      const nOn = sides.on.n;
      const per = (v: number, n: number) => round(v / n, 4);
      const pathOff = {
        wru: per(sides.off.units.wru, sides.off.n),
        rru: per(sides.off.units.rru, sides.off.n),
      };
      const pathOn = { wru: per(sides.on.units.wru, nOn), rru: per(sides.on.units.rru, nOn) };
      const figures = {
        'health.happyPathWruPerNotification': per(healthUnits.wru, nOn),
        'health.happyPathRruPerNotification': per(healthUnits.rru, nOn),
        'health.recordWritesPerNotification': per(recordWrites, nOn),
        'health.pathWruPerNotificationHealthOff': pathOff.wru,
        'health.pathRruPerNotificationHealthOff': pathOff.rru,
        'health.notificationsPerSecond': round((nOn + sides.off.n) / elapsedS, 1),
      };
      opts.log(
        `${nOn} notifications with health, ${sides.off.n} without, ${elapsedS.toFixed(1)} s: health record reads ${recordReads}, record writes ${recordWrites}, counter flushes ${flushes}; health units ${healthUnits.wru} WRU ${healthUnits.rru} RRU`,
      );
      const withHealth = {
        wru: round(pathOn.wru + healthUnits.wru / nOn, 4),
        rru: round(pathOn.rru + healthUnits.rru / nOn, 4),
      };
      const rows: Row[] = [
        {
          label: 'health: writes to the health record per notification (happy path)',
          key: 'health.recordWritesPerNotification',
          value: figures['health.recordWritesPerNotification'],
          unit: 'writes',
          goal: '0',
          met: recordWrites === 0,
          reference: `${nOn} notifications sent at the first attempt`,
        },
        {
          label: 'health: write units added per notification (happy path, counter flushes)',
          key: 'health.happyPathWruPerNotification',
          value: figures['health.happyPathWruPerNotification'],
          unit: 'WRU',
          goal: 'reported (0 per attempt)',
          reference: `whole first-attempt path: ${pathOff.wru} WRU/notification with health off, ${withHealth.wru} with`,
        },
        {
          label: 'health: read units added per notification (happy path, cached record)',
          key: 'health.happyPathRruPerNotification',
          value: figures['health.happyPathRruPerNotification'],
          unit: 'RRU',
          reference: `whole first-attempt path: ${pathOff.rru} RRU/notification with health off (definitions cached), ${withHealth.rru} with`,
        },
      ];
      return {
        figures,
        rows,
        details: {
          durationS: round(elapsedS, 1),
          rounds,
          notificationsWithHealth: nOn,
          notificationsWithoutHealth: sides.off.n,
          healthStoreCalls: Object.fromEntries(healthStore.calls),
          healthDynamoCommands: Object.fromEntries(healthOps),
          healthUnits,
          pathUnitsPerNotification: { healthOn: pathOn, healthOff: pathOff, withHealth },
          settings: {
            cacheTtlMs: CACHE_TTL_MS,
            countFlushMs: COUNT_FLUSH_MS,
            concurrency: CONCURRENCY,
          },
        },
        notes: [
          `one container: the record is read once per ${CACHE_TTL_MS / 1000} s and successes are added to the minute counters once per ${COUNT_FLUSH_MS / 1000} s; per notification these fall as the rate per container grows (${figures['health.notificationsPerSecond']} notifications/s here, against DynamoDB Local)`,
        ],
      };
    } finally {
      await sender.close();
      await stopStandIns();
      await receiver.stop();
    }
  },
};

export type { BenchOptions };
