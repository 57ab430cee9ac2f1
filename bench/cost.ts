/**
 * Cost model: dollars per million notifications at us-east-1 list prices (bench/prices.json),
 * from what this run can measure:
 *  - the synthesized CloudFormation template (CDK app in-process, bundling skipped): Lambda
 *    memory and architecture, SQS batch size, NAT gateways, EIPs, alarms, dashboards, KMS keys,
 *    PITR, state machine type, logging and tracing, retention;
 *  - DynamoDB capacity units of the real store adapters against DynamoDB Local, per outcome,
 *    sized by DynamoDB's item-size rules (bench/support/dynamo-meter.ts);
 *  - Step Functions state transitions of the synthesized retry machine executed locally
 *    (aws-local-stepfunctions) with stand-in tasks, per outcome;
 *  - log bytes the handlers write (Powertools logger and EMF metrics) per outcome;
 *  - Lambda CPU per notification measured by the delivery benchmark, and the ingest duration
 *    measured in local mode by the e2e benchmark (figures of this run, else bench/results.json);
 *  - what cannot be measured here (service latencies, the receiver's response time) comes
 *    from prices.json "assumptions".
 * Standard scenario: 1 KiB payloads, 10 events per POST, one webhook per event, 2 % of first
 * attempts fail, half of those recover at the first retry, half use all five.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { App } from 'aws-cdk-lib';
import type { SQSEvent } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { createAwsClients } from '../lambdas/adapters/aws-clients';
import { fixedCursorKey } from '../lambdas/adapters/cursor-key';
import {
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoWebhookStore,
} from '../lambdas/adapters/dynamo-stores';
import { createHttpSender } from '../lambdas/adapters/http-sender';
import { createDeliveryObserver } from '../lambdas/adapters/observability';
import { CachedWebhookStore } from '../lambdas/core/definition-cache';
import { DeliveryService } from '../lambdas/core/delivery';
import type { DeliveryJob, WebhookDefinition } from '../lambdas/core/model';
import { buildRenderContext, Renderer } from '../lambdas/core/render';
import type {
  AttemptLambdaInput,
  AttemptTaskOutput,
  RetryExecutionInput,
} from '../lambdas/core/retry-contract';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../lambdas/core/retry-schedule';
import { sendTimeHeaders } from '../lambdas/core/signing';
import { createAttemptHandler } from '../lambdas/handlers/attempt';
import { createDeliveryHandler } from '../lambdas/handlers/delivery';
import type { DeliveryObserver, RetryScheduler } from '../lambdas/ports';
import { buildApp } from '../lib/app';
import { RETRY_STATE_NAMES, synthesizeRetryDefinition } from '../lib/retry-definition';
import { standInCipher, startStandIns } from '../local/standins';
import {
  MemoryDeliveryQueue,
  MemoryNotificationStore,
  MemoryPayloadStore,
  MemoryResendJobStore,
  MemoryWebhookStore,
} from '../test/support/memory-stores';
import { referenceDefinition, referenceEvent } from './fixtures/reference';
import { type Meter, meterDynamo } from './support/dynamo-meter';
import { BENCH_DIR } from './support/processes';
import { startReceiverProcess } from './support/receiver';
import { round } from './support/stats';
import type { Benchmark, BenchOptions, BenchResult, Row } from './support/types';

const GOAL_USD_PER_MILLION = 3.9;
const MILLION = 1_000_000;
const LOOPBACK_POLICY = { allowHttp: true, allowCidrs: ['127.0.0.0/8'] };

/** Standard scenario. */
export const SCENARIO = {
  eventsPerRequest: 10,
  firstAttemptFailureShare: 0.02,
  /** Of the failures: recover at retry 1 / use all five retries. */
  recoverAtFirstRetryShare: 0.5,
} as const;

type Outcome = 'sent' | 'recoverAtRetry1' | 'failAllRetries';
const OUTCOMES: readonly Outcome[] = ['sent', 'recoverAtRetry1', 'failAllRetries'];
/** Receiver failures per outcome (the receiver answers 500 that many times, then 200). */
const FAILURES: Record<Outcome, number> = { sent: 0, recoverAtRetry1: 1, failAllRetries: 6 };

interface Price {
  usd: number;
  unit: string;
  readOn: string;
}
interface PriceFile {
  prices: Record<string, Price>;
  assumptions: Record<string, number | string>;
}

// ---- the synthesized template ----------------------------------------------------------------

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface StackFacts {
  readonly functions: Record<string, { memoryMb: number; architecture: string; logicalId: string }>;
  readonly otherFunctions: number;
  readonly sqsBatchSize: number;
  readonly natGateways: number;
  readonly elasticIps: number;
  readonly alarms: number;
  readonly dashboards: number;
  readonly kmsKeys: number;
  readonly interfaceEndpoints: number;
  readonly pitrTables: number;
  readonly stateMachineType: string;
  readonly stateMachineLogLevel: string;
  readonly stateMachineTracing: boolean;
  readonly retentionDays: number;
  readonly retrySchedule: number[];
  readonly deliveryConcurrency: number;
}

export function synthesizeStackFacts(): StackFacts {
  const app = new App({ context: { regions: 'us-east-1', 'aws:cdk:bundling-stacks': [] } });
  const [stack] = buildApp(app, {});
  if (!stack) throw new Error('the CDK app produced no stack');
  const template = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, Resource>;
  };
  const resources = Object.entries(template.Resources);
  const ofType = (t: string) => resources.filter(([, r]) => r.Type === t);
  const functions: StackFacts['functions'] = {};
  let otherFunctions = 0;
  let env: Record<string, string> = {};
  for (const [id, r] of ofType('AWS::Lambda::Function')) {
    const p = r.Properties ?? {};
    const role = ['Delivery', 'Attempt', 'Ingest', 'Api'].find((n) => id.includes(`${n}Function`));
    if (!role) {
      otherFunctions++;
      continue;
    }
    functions[role.toLowerCase()] = {
      memoryMb: Number(p.MemorySize ?? 128),
      architecture: ((p.Architectures as string[] | undefined) ?? ['x86_64'])[0]!,
      logicalId: id,
    };
    if (role === 'Delivery')
      env = ((p.Environment as { Variables?: Record<string, string> } | undefined)?.Variables ??
        {}) as Record<string, string>;
  }
  const esm = ofType('AWS::Lambda::EventSourceMapping')[0]?.[1].Properties ?? {};
  const machine = ofType('AWS::StepFunctions::StateMachine')[0]?.[1].Properties ?? {};
  const logging = machine.LoggingConfiguration as { Level?: string } | undefined;
  const num = (v: unknown, fallback: number) =>
    typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback;
  let schedule = [...DEFAULT_RETRY_SCHEDULE_SECONDS];
  try {
    if (typeof env.RETRY_SCHEDULE_SECONDS === 'string')
      schedule = JSON.parse(env.RETRY_SCHEDULE_SECONDS) as number[];
  } catch {
    // keep the default
  }
  return {
    functions,
    otherFunctions,
    sqsBatchSize: Number(esm.BatchSize ?? 10),
    natGateways: ofType('AWS::EC2::NatGateway').length,
    elasticIps: ofType('AWS::EC2::EIP').length,
    alarms: ofType('AWS::CloudWatch::Alarm').length,
    dashboards: ofType('AWS::CloudWatch::Dashboard').length,
    kmsKeys: ofType('AWS::KMS::Key').length,
    interfaceEndpoints: ofType('AWS::EC2::VPCEndpoint').filter(
      ([, r]) => r.Properties?.VpcEndpointType === 'Interface',
    ).length,
    pitrTables: ofType('AWS::DynamoDB::Table').filter(
      ([, r]) =>
        (
          r.Properties?.PointInTimeRecoverySpecification as
            | { PointInTimeRecoveryEnabled?: boolean }
            | undefined
        )?.PointInTimeRecoveryEnabled,
    ).length,
    stateMachineType: String(machine.StateMachineType ?? 'STANDARD'),
    stateMachineLogLevel: String(logging?.Level ?? 'OFF'),
    stateMachineTracing:
      (machine.TracingConfiguration as { Enabled?: boolean } | undefined)?.Enabled === true,
    retentionDays: num(env.RETENTION_DAYS, 90),
    retrySchedule: schedule,
    deliveryConcurrency: num(env.DELIVERY_CONCURRENCY, 16),
  };
}

// ---- state transitions -------------------------------------------------------------------------

export interface TransitionCount {
  readonly transitions: number;
  readonly historyEvents: number;
  readonly taskInvocations: number;
}

/** Runs the synthesized retry machine with stand-in tasks; counts states entered (billed transitions). */
export async function countTransitions(
  outcome: Exclude<Outcome, 'sent'>,
): Promise<TransitionCount> {
  const definition = synthesizeRetryDefinition();
  const states = (definition as { States: Record<string, { Type: string }> }).States;
  const machine = new StateMachine(definition as never, {
    validationOptions: { checkArn: false, checkPaths: false },
  });
  let invocations = 0;
  const task = async (input: unknown): Promise<AttemptTaskOutput> => {
    invocations++;
    const i = input as AttemptLambdaInput;
    const done = i.action === 'markFailed' || (outcome === 'recoverAtRetry1' && i.retry === 1);
    return {
      notificationId: i.notificationId,
      done,
      waitSeconds: 0,
      nextAttemptAt: new Date().toISOString(),
    };
  };
  const names = Object.keys(states);
  const execution = machine.run(
    {
      notificationId: 'ntf_COST',
      waitSeconds: 0,
      nextAttemptAt: new Date().toISOString(),
    } satisfies RetryExecutionInput,
    {
      overrides: {
        taskResourceLocalHandlers: Object.fromEntries(
          names.filter((n) => states[n]!.Type === 'Task').map((n) => [n, task]),
        ) as never,
        waitTimeOverrides: Object.fromEntries(
          names.filter((n) => states[n]!.Type === 'Wait').map((n) => [n, 0]),
        ),
      },
    },
  );
  let transitions = 0;
  let historyEvents = 0;
  const reading = (async () => {
    for await (const event of execution.eventLogs) {
      historyEvents++;
      if (event.type === 'StateEntered') transitions++;
    }
  })();
  await execution.result;
  await reading;
  return { transitions, historyEvents, taskInvocations: invocations };
}

// ---- DynamoDB units and log bytes per outcome ----------------------------------------------------

interface OutcomeUnits {
  wru: number;
  indexWru: number;
  rru: number;
  /** Bytes stored at the end (items + index entries + 100 B per item), for storage and PITR. */
  storedBytes: number;
  tableBytes: number;
  ops: string[];
  /** Write units if the rendered request lived inside the notification item (no Payloads table). */
  mergedWru: number;
  mergedRru: number;
  retryStarts: number;
}

const recordingScheduler = (): RetryScheduler & { starts: RetryExecutionInput[] } => {
  const starts: RetryExecutionInput[] = [];
  return {
    starts,
    async start(input) {
      starts.push(input);
    },
  };
};

function quietObserver(): DeliveryObserver {
  const noop = () => undefined;
  return {
    sent: noop,
    failed: noop,
    retryScheduled: noop,
    attemptFailed: noop,
    duplicate: noop,
    warn: noop,
  };
}

function definitionFor(receiverUrl: string, outcome: Outcome, id: string): WebhookDefinition {
  return referenceDefinition(`${receiverUrl}/fail-${FAILURES[outcome]}`, id);
}

/** One notification per outcome through the real DynamoDB adapters; capacity units counted. */
async function measureDynamo(
  opts: BenchOptions,
  receiverUrl: string,
): Promise<Record<Outcome, OutcomeUnits>> {
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
    const service = new DeliveryService({
      webhooks: new CachedWebhookStore(webhooks, 30_000),
      notifications: new DynamoNotificationStore(
        metered,
        standIns.tables.notifications,
        fixedCursorKey(),
      ),
      payloads: new DynamoPayloadStore(metered, standIns.tables.payloads),
      resendJobs: new MemoryResendJobStore(),
      queue: new MemoryDeliveryQueue(),
      scheduler,
      sender,
      renderer: new Renderer(),
      clock: { now: () => new Date() },
      observer: quietObserver(),
      settings: { schedule: DEFAULT_RETRY_SCHEDULE_SECONDS, timeScale: 1, retentionDays: 90 },
    });
    const result = {} as Record<Outcome, OutcomeUnits>;
    for (const [k, outcome] of OUTCOMES.entries()) {
      const def = definitionFor(receiverUrl, outcome, `wh_COSTMODEL${k}000000000000000`);
      await webhooks.put(def);
      // Warm the definition cache: its reads are shared by every notification for 30 s.
      await service.handleJob({
        kind: 'deliver',
        notificationId: `ntf_COSTWARM${k}`,
        webhookId: def.id,
        event: referenceEvent(900 + k),
      });
      meter.reset();
      const starts = scheduler.starts.length;
      const id = `ntf_COST${outcome.toUpperCase()}`;
      await service.handleJob({
        kind: 'deliver',
        notificationId: id,
        webhookId: def.id,
        event: referenceEvent(k),
      });
      if (outcome !== 'sent') {
        for (let retry = 1; retry <= 5; retry++) {
          const out = await service.retry({ action: 'attempt', notificationId: id, retry });
          if (out.done) break;
          if (retry === 5) await service.markFailed(id);
        }
      }
      const ops = meter.ops.filter((o) => o.table !== standIns.tables.webhooks);
      const tableBytes =
        (meter.sizes.get(`${standIns.tables.notifications}/${id}`) ?? 0) +
        (meter.sizes.get(`${standIns.tables.payloads}/${id}`) ?? 0);
      const indexBytes = meter.indexSizes.get(`${standIns.tables.notifications}/${id}`) ?? 0;
      const payloadBytes = meter.sizes.get(`${standIns.tables.payloads}/${id}`) ?? 0;
      const isPayload = (o: (typeof ops)[number]) => o.table === standIns.tables.payloads;
      const merged = ops.filter((o) => !isPayload(o));
      result[outcome] = {
        mergedWru: merged.reduce(
          (a, o) => a + (o.wru > 0 ? Math.ceil((o.itemBytesAfter + payloadBytes) / 1024) : 0),
          0,
        ),
        mergedRru: merged.reduce(
          (a, o) => a + (o.rru > 0 ? Math.ceil((o.itemBytesAfter + payloadBytes) / 4096) : 0),
          0,
        ),
        wru: ops.reduce((a, o) => a + o.wru, 0),
        indexWru: ops.reduce((a, o) => a + o.indexWru, 0),
        rru: ops.reduce((a, o) => a + o.rru, 0),
        tableBytes: tableBytes + 200, // 100 B per item (notification, payload)
        storedBytes: tableBytes + 200 + indexBytes,
        ops: ops.map(
          (o) =>
            `${o.command} ${o.table.replace(/^cost-/, '')} ${o.itemBytesAfter} B: ${o.wru} WRU + ${o.indexWru} GSI WRU, ${o.rru} RRU`,
        ),
        retryStarts: scheduler.starts.length - starts,
      };
      opts.log(
        `DynamoDB ${outcome}: ${result[outcome].wru} WRU + ${result[outcome].indexWru} GSI WRU, ${result[outcome].rru} RRU, ${result[outcome].storedBytes} B stored`,
      );
    }
    return result;
  } finally {
    await sender.close();
    await stop();
  }
}

interface LogBytes {
  /** Bytes the delivery Lambda writes per first attempt (handler logs + EMF), batch of 10. */
  deliveryPerNotification: Record<Outcome, number>;
  /** Bytes the attempt Lambda writes per invocation, by outcome of its attempt. */
  attemptPerInvocation: { recovered: number; failed: number; markFailed: number };
}

/** Runs the delivery and attempt handlers with the real Powertools logger and metrics, capturing stdout. */
async function measureLogs(receiverUrl: string, batchSize: number): Promise<LogBytes> {
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
  const capture = async (fn: () => Promise<unknown>): Promise<number> => {
    const write = process.stdout.write.bind(process.stdout);
    let bytes = 0;
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
    try {
      await fn();
    } finally {
      process.stdout.write = write;
    }
    return bytes;
  };
  try {
    const perNotification = {} as Record<Outcome, number>;
    const ids: Record<Outcome, string[]> = { sent: [], recoverAtRetry1: [], failAllRetries: [] };
    for (const [k, outcome] of OUTCOMES.entries()) {
      const def = definitionFor(receiverUrl, outcome, `wh_COSTLOGS${k}0000000000000000`);
      await webhooks.put(def);
      const records = Array.from({ length: batchSize }, (_, i) => {
        const id = `ntf_LOG${k}x${i}`;
        ids[outcome].push(id);
        const job: DeliveryJob = {
          kind: 'deliver',
          notificationId: id,
          webhookId: def.id,
          event: referenceEvent(i),
        };
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
      const event = { Records: records } as unknown as SQSEvent;
      perNotification[outcome] = (await capture(() => delivery(event))) / batchSize;
    }
    const recoveredId = ids.recoverAtRetry1[0]!;
    const failedId = ids.failAllRetries[0]!;
    const recovered = await capture(() =>
      attempt({ action: 'attempt', notificationId: recoveredId, retry: 1 }),
    );
    const failed = await capture(() =>
      attempt({ action: 'attempt', notificationId: failedId, retry: 1 }),
    );
    await capture(async () => {
      for (let retry = 2; retry <= 5; retry++)
        await attempt({ action: 'attempt', notificationId: failedId, retry });
    });
    const markFailed = await capture(() =>
      attempt({ action: 'markFailed', notificationId: failedId }),
    );
    return {
      deliveryPerNotification: perNotification,
      attemptPerInvocation: { recovered, failed, markFailed },
    };
  } finally {
    await sender.close();
  }
}

// ---- the model ----------------------------------------------------------------------------------

export interface ModelInputs {
  readonly facts: StackFacts;
  readonly prices: Record<string, Price>;
  readonly a: Record<string, number>;
  readonly units: Record<Outcome, OutcomeUnits>;
  readonly transitions: Record<Exclude<Outcome, 'sent'>, TransitionCount>;
  readonly logs: LogBytes;
  readonly cpuUs: { firstAttempt: number; attempt: number; sdkCall: number };
  readonly ingestMs: { batch: number; single: number };
  readonly messageBytes: number;
  readonly attemptWireBytes: number;
}

export interface Breakdown {
  readonly perMillion: Record<string, number>;
  readonly total: number;
  readonly volumes: Record<string, number>;
}

/** Dollars per million notifications, by service line, for `eventsPerRequest` events per POST. */
export function model(
  m: ModelInputs,
  eventsPerRequest: number,
  variant: Partial<
    Record<'scheduler' | 'sqsDelay' | 'mergedItem' | 'oneIndex' | 'retention30' | 'noPitr', boolean>
  > = {},
): Breakdown {
  const { facts, prices, a } = m;
  const p = (k: string) => prices[k]!.usd;
  const fail = SCENARIO.firstAttemptFailureShare;
  const share: Record<Outcome, number> = {
    sent: 1 - fail,
    recoverAtRetry1: fail * SCENARIO.recoverAtFirstRetryShare,
    failAllRetries: fail * (1 - SCENARIO.recoverAtFirstRetryShare),
  };
  const w = (f: (o: Outcome) => number) => OUTCOMES.reduce((acc, o) => acc + share[o] * f(o), 0);
  const N = MILLION;
  const B = facts.sqsBatchSize;
  const gb = (fn: string) => (facts.functions[fn]?.memoryMb ?? 512) / 1024;
  const stretch = (fn: string) =>
    Math.max(1, (a.lambdaFullVcpuMemoryMb as number) / (facts.functions[fn]?.memoryMb ?? 512)) /
    (a.cpuSpeedVsThisMachine as number);

  const requests = N / eventsPerRequest;
  // Lambda durations (ms per invocation).
  const failInBatch = 1 - (1 - fail) ** B;
  const deliveryMs =
    (B * m.cpuUs.firstAttempt * stretch('delivery')) / 1000 +
    2 * a.dynamoCallMs! +
    a.receiverResponseMs! +
    failInBatch * a.stepFunctionsStartMs!;
  const attemptMs =
    (m.cpuUs.attempt * stretch('attempt')) / 1000 +
    3 * a.dynamoCallMs! +
    a.failedReceiverResponseMs!;
  const markFailedMs = (2 * m.cpuUs.sdkCall * stretch('attempt')) / 1000 + 2 * a.dynamoCallMs!;
  const ingestMs = eventsPerRequest === 1 ? m.ingestMs.single : m.ingestMs.batch;
  const retriesPerN = share.recoverAtRetry1 * 1 + share.failAllRetries * 5;
  const markFailedPerN = share.failAllRetries;
  const attemptInvocations = N * (retriesPerN + markFailedPerN);
  const deliveryInvocations = N / B;

  const out: Record<string, number> = {};
  out.apiGateway = requests * p('apiGatewayHttpRequest');
  out.lambdaRequests = (requests + deliveryInvocations + attemptInvocations) * p('lambdaRequest');
  out.lambdaDurationIngest = requests * (ingestMs / 1000) * gb('ingest') * p('lambdaGbSecondArm64');
  out.lambdaDurationDelivery =
    deliveryInvocations * (deliveryMs / 1000) * gb('delivery') * p('lambdaGbSecondArm64');
  out.lambdaDurationAttempt =
    ((N * (retriesPerN * attemptMs + markFailedPerN * markFailedMs)) / 1000) *
    gb('attempt') *
    p('lambdaGbSecondArm64');
  const chunks = (messages: number) =>
    Math.max(1, Math.ceil((messages * m.messageBytes) / (64 * 1024)));
  out.sqs =
    (requests * chunks(eventsPerRequest) + deliveryInvocations * (chunks(B) + 1)) * p('sqsRequest');

  // DynamoDB units per outcome, with the what-if variants applied.
  const wru = w((o) => (variant.mergedItem ? m.units[o].mergedWru : m.units[o].wru));
  const rru = w((o) => (variant.mergedItem ? m.units[o].mergedRru : m.units[o].rru));
  let indexWru = w((o) => m.units[o].indexWru);
  let stored = w((o) => m.units[o].storedBytes);
  if (variant.oneIndex) {
    // The two GSIs carry the same projection: one fewer halves index writes and index storage.
    indexWru /= 2;
    stored -= w((o) => m.units[o].storedBytes - m.units[o].tableBytes) / 2;
  }
  out.dynamoWrites = N * (wru + indexWru) * p('dynamoWriteRequestUnit');
  out.dynamoReads = N * rru * p('dynamoReadRequestUnit');
  const months = (variant.retention30 ? 30 : facts.retentionDays) / (730 / 24);
  out.dynamoStorage = ((N * stored) / 1e9) * months * p('dynamoStorageGbMonth');
  out.dynamoPitr =
    facts.pitrTables > 0 && !variant.noPitr
      ? ((N * w((o) => m.units[o].tableBytes)) / 1e9) * months * p('dynamoPitrGbMonth')
      : 0;

  const executions = N * fail;
  const transitions =
    N *
    (share.recoverAtRetry1 * m.transitions.recoverAtRetry1.transitions +
      share.failAllRetries * m.transitions.failAllRetries.transitions);
  const historyEvents =
    N *
    (share.recoverAtRetry1 * m.transitions.recoverAtRetry1.historyEvents +
      share.failAllRetries * m.transitions.failAllRetries.historyEvents);
  const logGb = (bytes: number, events: number) =>
    (bytes + events * (a.cloudwatchLogBytesOverheadPerEvent as number)) / 1e9;
  if (variant.scheduler || variant.sqsDelay) {
    out.stepFunctions = 0;
    if (variant.scheduler)
      out.retryScheduling = N * retriesPerN * p('eventBridgeSchedulerInvocation');
    else {
      // Re-queue with DelaySeconds (at most 900 s per hop): send + receive + delete per hop.
      const hops = facts.retrySchedule.map((s) => Math.ceil(s / 900));
      const hopsRecover = hops[0]!;
      const hopsAll = hops.reduce((x, y) => x + y, 0);
      out.retryScheduling =
        N *
        (share.recoverAtRetry1 * hopsRecover + share.failAllRetries * hopsAll) *
        3 *
        p('sqsRequest');
    }
  } else {
    out.stepFunctions = transitions * p('stepFunctionsStandardTransition');
    out.xray = facts.stateMachineTracing
      ? executions * (a.xraySampledShare as number) * p('xrayTrace')
      : 0;
  }
  const attemptsPerN = 1 + retriesPerN;
  out.natDataProcessed = ((N * attemptsPerN * m.attemptWireBytes) / 1e9) * p('natGatewayGb');

  // CloudWatch Logs ingestion: handler logs + EMF, Lambda platform lines, API access logs, state machine logs.
  const deliveryLogBytes = N * w((o) => m.logs.deliveryPerNotification[o]);
  const attemptLogBytes =
    N *
    (share.recoverAtRetry1 * m.logs.attemptPerInvocation.recovered +
      share.failAllRetries *
        (5 * m.logs.attemptPerInvocation.failed + m.logs.attemptPerInvocation.markFailed));
  const invocations = requests + deliveryInvocations + attemptInvocations;
  const platformBytes = invocations * (a.lambdaPlatformLogBytesPerInvocation as number);
  const ingestBytes =
    requests * ((a.ingestLogBytesPerRequest as number) + (a.apiAccessLogBytesPerRequest as number));
  const sfnLogBytes =
    facts.stateMachineLogLevel === 'OFF' || variant.scheduler || variant.sqsDelay
      ? 0
      : historyEvents * (a.stepFunctionsLogBytesPerEvent as number);
  const logEvents = N * 2 + invocations * 3 + requests * 2 + (sfnLogBytes > 0 ? historyEvents : 0);
  out.cloudwatchLogs =
    logGb(
      deliveryLogBytes + attemptLogBytes + platformBytes + ingestBytes + sfnLogBytes,
      logEvents,
    ) * p('cloudwatchLogsIngestGb');

  for (const k of Object.keys(out)) out[k] = round(out[k]!, 3);
  const total = round(
    Object.values(out).reduce((x, y) => x + y, 0),
    3,
  );
  return {
    perMillion: out,
    total,
    volumes: {
      apiRequests: requests,
      lambdaInvocations: round(invocations),
      deliveryInvocationMs: round(deliveryMs),
      attemptInvocationMs: round(attemptMs),
      markFailedInvocationMs: round(markFailedMs),
      ingestInvocationMs: round(ingestMs),
      stateTransitions: round(transitions),
      executions: round(executions),
      dynamoWruPerNotification: round(wru + indexWru),
      dynamoRruPerNotification: round(rru),
      storedBytesPerNotification: round(stored),
      attemptsPerNotification: round(attemptsPerN, 4),
      logBytesPerNotification: round(
        (deliveryLogBytes + attemptLogBytes + platformBytes + ingestBytes + sfnLogBytes) / N,
      ),
    },
  };
}

export function fixedMonthly(
  facts: StackFacts,
  prices: Record<string, Price>,
  a: Record<string, number>,
): Record<string, number> {
  const h = a.hoursPerMonth!;
  const p = (k: string) => prices[k]!.usd;
  const out: Record<string, number> = {
    natGateways: facts.natGateways * h * p('natGatewayHour'),
    elasticIps: facts.elasticIps * h * p('publicIpv4Hour'),
    dashboards: facts.dashboards * p('cloudwatchDashboardMonth'),
    alarms: facts.alarms * p('cloudwatchAlarmMonth'),
    kmsKeys: facts.kmsKeys * p('kmsKeyMonth'),
  };
  for (const k of Object.keys(out)) out[k] = round(out[k]!, 4);
  return out;
}

// ---- the benchmark --------------------------------------------------------------------------------

function wireBytes(def: WebhookDefinition, responseHeaderBytes: number, tlsBytes: number): number {
  const id = 'ntf_WIRE00000000000000000000';
  const req = new Renderer().render(def, buildRenderContext(def, referenceEvent(3), id));
  const url = new URL(req.url);
  const headers: Record<string, string> = {
    host: url.host,
    connection: 'keep-alive',
    'content-length': String(Buffer.byteLength(req.body)),
    ...req.headers,
    ...sendTimeHeaders(def, id, new Date(), req.body),
  };
  const head = `${req.method} ${url.pathname}${url.search} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  // TCP/IP headers: about 40 bytes per segment; a 1.5 KB request and the response fit in a few.
  return (
    Buffer.byteLength(head) + Buffer.byteLength(req.body) + responseHeaderBytes + tlsBytes + 6 * 40
  );
}

export const costBenchmark: Benchmark = {
  name: 'cost',
  title:
    'Cost per million notifications (us-east-1 list prices, synthesized stack, measured units)',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const priceFile = JSON.parse(
      readFileSync(path.join(BENCH_DIR, 'prices.json'), 'utf8'),
    ) as PriceFile;
    const a = Object.fromEntries(
      Object.entries(priceFile.assumptions).filter(([, v]) => typeof v === 'number'),
    ) as Record<string, number>;
    const notes: string[] = [];

    const t0 = performance.now();
    const facts = synthesizeStackFacts();
    opts.log(
      `stack synthesized in ${Math.round(performance.now() - t0)} ms: ${Object.entries(
        facts.functions,
      )
        .map(([n, f]) => `${n} ${f.memoryMb} MB ${f.architecture}`)
        .join(
          ', ',
        )}; batch ${facts.sqsBatchSize}; NAT ${facts.natGateways}, EIP ${facts.elasticIps}, alarms ${facts.alarms}, dashboards ${facts.dashboards}, KMS ${facts.kmsKeys}`,
    );
    const nonArm = Object.entries(facts.functions).filter(([, f]) => f.architecture !== 'arm64');
    if (nonArm.length > 0)
      notes.push(
        `functions not on arm64 (${nonArm.map(([n]) => n).join(', ')}): priced at the arm64 rate anyway; x86 costs about 25 % more`,
      );

    const transitions = {
      recoverAtRetry1: await countTransitions('recoverAtRetry1'),
      failAllRetries: await countTransitions('failAllRetries'),
    };
    opts.log(
      `state transitions: recover at retry 1 ${transitions.recoverAtRetry1.transitions}, all five retries ${transitions.failAllRetries.transitions} (states: ${Object.values(RETRY_STATE_NAMES).length} kinds)`,
    );

    const receiver = await startReceiverProcess(opts.procs);
    let units: Record<Outcome, OutcomeUnits>;
    let logs: LogBytes;
    try {
      units = await measureDynamo(opts, receiver.url);
      logs = await measureLogs(receiver.url, facts.sqsBatchSize);
      opts.log(
        `log bytes per first attempt: ${Object.entries(logs.deliveryPerNotification)
          .map(([o, b]) => `${o} ${Math.round(b)}`)
          .join(', ')}; per retry invocation ${JSON.stringify(logs.attemptPerInvocation)}`,
      );
    } finally {
      await receiver.stop();
    }

    // CPU per notification from the delivery benchmark (this run, else results.json).
    const cpu = (key: string, fallback: number) => {
      const v = opts.previous(key);
      if (v === undefined)
        notes.push(`${key} not measured yet (run the delivery benchmark): assumed ${fallback} us`);
      return v ?? fallback;
    };
    const firstMem = cpu('deliveryCpuUsPerOp.firstAttemptMemory', 150);
    const attemptMem = cpu('deliveryCpuUsPerOp.attemptMemory', 100);
    const attemptDyn = cpu('deliveryCpuUsPerOp.attemptDynamo', 1500);
    // The resend path makes 3 DynamoDB calls (notification get, payload get, attempt update; the definition is cached).
    const sdkCall = Math.max(0, (attemptDyn - attemptMem) / 3);
    const cpuUs = { firstAttempt: firstMem + 2 * sdkCall, attempt: attemptDyn, sdkCall };
    const ingestBatch = opts.previous('e2eIngestBatchP50Ms');
    const ingestSingle = opts.previous('e2eIngestP50Ms');
    if (ingestBatch === undefined || ingestSingle === undefined) {
      notes.push(
        `ingest duration not measured yet (run the e2e benchmark): assumed ${a.ingestDurationMsFallback} ms per invocation`,
      );
    }
    const def = referenceDefinition('https://ledger.example.com');
    const event = referenceEvent(5);
    const messageBytes = Buffer.byteLength(
      JSON.stringify({
        kind: 'deliver',
        notificationId: 'ntf_ABCDEFGHIJKLMNOPQRSTUVWXYZ',
        webhookId: def.id,
        event,
      }),
    );
    const inputs: ModelInputs = {
      facts,
      prices: priceFile.prices,
      a,
      units,
      transitions,
      logs,
      cpuUs,
      ingestMs: {
        batch: ingestBatch ?? a.ingestDurationMsFallback!,
        single: ingestSingle ?? a.ingestDurationMsFallback!,
      },
      messageBytes,
      attemptWireBytes: wireBytes(def, a.responseHeaderBytes!, a.tlsHandshakeBytesPerAttempt!),
    };
    const standard = model(inputs, SCENARIO.eventsPerRequest);
    const single = model(inputs, 1);
    const fixed = fixedMonthly(facts, priceFile.prices, a);
    const fixedTotal = round(
      Object.values(fixed).reduce((x, y) => x + y, 0),
      4,
    );
    const whatIf: Record<string, number> = {
      retriesViaEventBridgeScheduler: model(inputs, 10, { scheduler: true }).total,
      retriesViaSqsDelayHops: model(inputs, 10, { sqsDelay: true }).total,
      requestInsideNotificationItem: model(inputs, 10, { mergedItem: true }).total,
      oneNotificationIndex: model(inputs, 10, { oneIndex: true }).total,
      retention30Days: model(inputs, 10, { retention30: true }).total,
      schedulerAndMergedItemAndOneIndex: model(inputs, 10, {
        scheduler: true,
        mergedItem: true,
        oneIndex: true,
      }).total,
      schedulerAndMergedItemAndOneIndexAndRetention30: model(inputs, 10, {
        scheduler: true,
        mergedItem: true,
        oneIndex: true,
        retention30: true,
      }).total,
      noPitr: model(inputs, 10, { noPitr: true }).total,
      schedulerAndMergedItemAndOneIndexAndNoPitr: model(inputs, 10, {
        scheduler: true,
        mergedItem: true,
        oneIndex: true,
        noPitr: true,
      }).total,
      schedulerAndMergedItemAndOneIndexAndRetention30AndNoPitr: model(inputs, 10, {
        scheduler: true,
        mergedItem: true,
        oneIndex: true,
        retention30: true,
        noPitr: true,
      }).total,
    };
    opts.log(
      `per million, standard scenario: $${standard.total}; ${JSON.stringify(standard.perMillion)}`,
    );
    opts.log(`what if (per million): ${JSON.stringify(whatIf)}`);

    const met = standard.total <= GOAL_USD_PER_MILLION;
    const top = Object.entries(standard.perMillion)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 3)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const rows: Row[] = [
      {
        label: 'Cost per million notifications (standard scenario)',
        key: 'costPerMillionUsd',
        value: standard.total,
        unit: 'USD',
        reference: `EventBridge API Destinations $${GOAL_USD_PER_MILLION}; largest: ${top}`,
        goal: `<= ${GOAL_USD_PER_MILLION}`,
        met,
      },
      {
        label: 'Cost per million, single-event POSTs',
        key: 'costPerMillionSingleEventUsd',
        value: single.total,
        unit: 'USD',
        reference: `vs ${standard.total} with ${SCENARIO.eventsPerRequest} events per POST`,
      },
      {
        label: 'Fixed cost per region per month',
        key: 'fixedMonthlyUsd',
        value: fixedTotal,
        unit: 'USD',
        reference: Object.entries(fixed)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      },
    ];
    for (const [k, v] of Object.entries(standard.perMillion)) {
      rows.push({
        label: `  per million: ${k}`,
        key: `costBreakdownUsd.${k}`,
        value: v,
        unit: 'USD',
      });
    }
    for (const [k, v] of Object.entries(whatIf)) {
      rows.push({
        label: `  what if: ${k}`,
        key: `costWhatIfUsd.${k}`,
        value: v,
        unit: 'USD',
        reference: `vs ${standard.total}`,
      });
    }
    if (!met) {
      notes.push(
        `Over the $${GOAL_USD_PER_MILLION} goal: ${top}. See the what-if rows (computed with the same measured units) for what would get there.`,
      );
    }
    notes.push(
      'Lambda durations: measured CPU per notification (delivery benchmark) scaled to the function memory, plus assumed service latencies (prices.json assumptions); the receiver response time is an assumption.',
    );
    const figures: Record<string, number> = {
      costPerMillionUsd: standard.total,
      costPerMillionSingleEventUsd: single.total,
      fixedMonthlyUsd: fixedTotal,
    };
    for (const [k, v] of Object.entries(standard.perMillion)) figures[`costBreakdownUsd.${k}`] = v;
    for (const [k, v] of Object.entries(single.perMillion))
      figures[`costBreakdownSingleEventUsd.${k}`] = v;
    for (const [k, v] of Object.entries(fixed)) figures[`fixedMonthlyBreakdownUsd.${k}`] = v;
    for (const [k, v] of Object.entries(whatIf)) figures[`costWhatIfUsd.${k}`] = v;
    return {
      figures,
      rows,
      details: {
        scenario: SCENARIO,
        stack: facts,
        transitions,
        dynamoUnitsPerOutcome: units,
        logBytes: logs,
        cpuUsPerNotification: cpuUs,
        ingestMs: inputs.ingestMs,
        messageBytes,
        attemptWireBytes: inputs.attemptWireBytes,
        volumesPerMillion: standard.volumes,
        singleEvent: single,
        assumptions: priceFile.assumptions,
        prices: priceFile.prices,
      },
      notes,
    };
  },
};
