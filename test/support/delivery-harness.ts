/**
 * The delivery engine wired to real stand-ins: DynamoDB Local stores, the fauxqs queue, the
 * undici sender (egress guard opened for loopback), the renderer, and the synthesized retry
 * machine run in-process with the real attempt handler bound to its tasks.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoResendJobStore,
  DynamoWebhookStore,
} from '../../lambdas/adapters/dynamo-stores';
import { createHttpSender, type HttpSenderOptions } from '../../lambdas/adapters/http-sender';
import { SqsDeliveryQueue } from '../../lambdas/adapters/sqs-queue';
import type { ConcurrencyGate } from '../../lambdas/core/concurrency-gate';
import { CachedWebhookStore } from '../../lambdas/core/definition-cache';
import { DeliveryService } from '../../lambdas/core/delivery';
import type { HealthGate } from '../../lambdas/core/health/gate';
import { newEventId, newWebhookId, notificationIdFor } from '../../lambdas/core/ids';
import type { DeliveryJob, EventEnvelope, WebhookDefinition } from '../../lambdas/core/model';
import { Renderer } from '../../lambdas/core/render';
import type { AttemptLambdaInput, AttemptTaskOutput } from '../../lambdas/core/retry-contract';
import { createAttemptHandler } from '../../lambdas/handlers/attempt';
import { createDeliveryHandler } from '../../lambdas/handlers/delivery';
import type { DeliveryObserver, NotificationRef, RetryScheduler } from '../../lambdas/ports';
import { standInCipher } from '../../local/standins';
import { subjectKeysFor } from './api-harness';
import { TEST_CURSOR_KEY } from './cursor-key';
import { lateBound } from './late-bound';
import { ok, type Receiver, startReceiver } from './receivers';
import { createLocalRetryMachine, type LocalRetryMachine } from './retry-machine';
import type { StandIns } from './standins';

export const LOOPBACK_POLICY = { allowHttp: true, allowCidrs: ['127.0.0.0/8', '::1/128'] } as const;

export interface ObservedEvent {
  readonly kind:
    | 'sent'
    | 'failed'
    | 'retryScheduled'
    | 'attemptFailed'
    | 'duplicate'
    | 'deferred'
    | 'warn';
  readonly ref: NotificationRef;
  readonly detail?: unknown;
}

export function recordingObserver(): DeliveryObserver & { events: ObservedEvent[] } {
  const events: ObservedEvent[] = [];
  return {
    events,
    sent: (ref, _attempt, latencyMs) => events.push({ kind: 'sent', ref, detail: latencyMs }),
    failed: (ref, reason) => events.push({ kind: 'failed', ref, detail: reason }),
    retryScheduled: (ref, _attempt, waitSeconds) =>
      events.push({ kind: 'retryScheduled', ref, detail: waitSeconds }),
    attemptFailed: (ref) => events.push({ kind: 'attemptFailed', ref }),
    duplicate: (ref, what) => events.push({ kind: 'duplicate', ref, detail: what }),
    deferred: (ref, deferrals, delaySeconds) =>
      events.push({ kind: 'deferred', ref, detail: { deferrals, delaySeconds } }),
    warn: (message, ref) => events.push({ kind: 'warn', ref, detail: message }),
  };
}

export interface HarnessOptions {
  readonly schedule?: readonly number[];
  readonly timeScale?: number;
  readonly sender?: Partial<HttpSenderOptions>;
  /**
   * Sender options for the URLs `match` accepts, e.g. short timeouts only toward a receiver that
   * never answers (its TIMEOUT then does not depend on the machine's speed, and no fast answer
   * elsewhere can be turned into one).
   */
  readonly senderFor?: {
    readonly match: (url: string) => boolean;
    readonly options: Partial<HttpSenderOptions>;
  };
  /** Starts retries instead of the in-process machine (e.g. the product's SfnRetryScheduler). */
  readonly scheduler?: RetryScheduler;
  /** The per-webhook concurrency cap; none when absent. */
  readonly gate?: ConcurrencyGate;
  /** Destination health (circuit, pause, rate limit); none when absent. */
  readonly health?: HealthGate;
  /** DeliverySettings.firstAttemptWindowSeconds; the product's default when absent. */
  readonly firstAttemptWindowSeconds?: number;
  /**
   * Definitions read through the product's cache (CachedWebhookStore) with this TTL, as the
   * delivery and attempt Lambdas read them; uncached when absent. `webhooks` stays the table.
   */
  readonly definitionCacheTtlMs?: number;
}

export interface DeliveryHarness {
  readonly service: DeliveryService;
  readonly machine: LocalRetryMachine;
  readonly observer: ReturnType<typeof recordingObserver>;
  readonly webhooks: DynamoWebhookStore;
  readonly notifications: DynamoNotificationStore;
  readonly payloads: DynamoPayloadStore;
  readonly resendJobs: DynamoResendJobStore;
  readonly queue: SqsDeliveryQueue;
  /** The attempt Lambda's handler over this engine (what Step Functions tasks invoke). */
  attempt(input: AttemptLambdaInput): Promise<AttemptTaskOutput>;
  close(): Promise<void>;
}

/** Small waits: the default schedule shape, 1 s to 16 s scaled by 1/100 (10 ms to 160 ms). */
export const FAST_SCHEDULE = [1, 2, 4, 8, 16] as const;
export const FAST_SCALE = 0.01;

export function createDeliveryHarness(
  standIns: StandIns,
  options: HarnessOptions = {},
): DeliveryHarness {
  const { dynamo, sqs } = standIns.clients;
  const schedule = options.schedule ?? FAST_SCHEDULE;
  const webhooks = new DynamoWebhookStore(
    dynamo,
    standIns.tables.webhooks,
    standInCipher(standIns),
  );
  const notifications = new DynamoNotificationStore(
    dynamo,
    standIns.tables.notifications,
    TEST_CURSOR_KEY,
    webhooks,
  );
  const payloads = new DynamoPayloadStore(
    dynamo,
    standIns.tables.payloads,
    subjectKeysFor(standIns),
  );
  const resendJobs = new DynamoResendJobStore(dynamo, standIns.tables.notifications);
  const queue = new SqsDeliveryQueue(sqs, standIns.queueUrl);
  const main = createHttpSender({ policy: LOOPBACK_POLICY, ...options.sender });
  const routed = options.senderFor
    ? createHttpSender({ policy: LOOPBACK_POLICY, ...options.senderFor.options })
    : undefined;
  const sender = {
    send: (request: Parameters<typeof main.send>[0]) =>
      routed && options.senderFor!.match(request.url) ? routed.send(request) : main.send(request),
    close: async () => {
      await main.close();
      await routed?.close();
    },
  };
  const observer = recordingObserver();
  const metrics = new Metrics({ namespace: 'Webhooks', serviceName: 'webhooks-test' });
  let attemptHandler: ReturnType<typeof createAttemptHandler> | undefined;
  const machine = createLocalRetryMachine((input) => {
    if (!attemptHandler) throw new Error('attempt handler not ready');
    return attemptHandler(input);
  }, schedule);
  const service = new DeliveryService({
    webhooks:
      options.definitionCacheTtlMs === undefined
        ? webhooks
        : new CachedWebhookStore(webhooks, options.definitionCacheTtlMs),
    notifications,
    payloads,
    resendJobs,
    queue,
    scheduler: options.scheduler ?? machine,
    sender,
    renderer: new Renderer(),
    clock: { now: () => new Date() },
    observer,
    settings: {
      schedule,
      timeScale: options.timeScale ?? FAST_SCALE,
      retentionDays: 90,
      ...(options.firstAttemptWindowSeconds === undefined
        ? {}
        : { firstAttemptWindowSeconds: options.firstAttemptWindowSeconds }),
    },
    ...(options.gate ? { gate: options.gate } : {}),
    ...(options.health ? { health: options.health } : {}),
  });
  attemptHandler = createAttemptHandler({ service, metrics });
  return {
    service,
    machine,
    observer,
    webhooks,
    notifications,
    payloads,
    resendJobs,
    queue,
    attempt: (input) => attemptHandler!(input),
    async close() {
      await machine.settle().catch(() => undefined);
      await sender.close();
    },
  };
}

/** Quiet logger for handler tests (Powertools writes JSON lines to stdout). */
export function quietLogger(): Logger {
  return new Logger({ serviceName: 'webhooks-test', logLevel: 'SILENT' });
}

export function definition(
  overrides: Partial<WebhookDefinition> & Pick<WebhookDefinition, 'url'>,
): WebhookDefinition {
  const now = new Date().toISOString();
  return {
    id: newWebhookId(),
    name: 'test webhook',
    events: ['LOAN_DISBURSEMENT'],
    enabled: true,
    method: 'POST',
    contentType: 'application/json',
    headers: {},
    body: '{"loan": {{ data.loanId | json }}}',
    version: 1,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

export function event(data: Record<string, unknown>, type = 'LOAN_DISBURSEMENT'): EventEnvelope {
  return { id: newEventId(), type, occurredAt: new Date().toISOString(), data };
}

export function deliverJob(
  def: WebhookDefinition,
  evt: EventEnvelope,
): Extract<DeliveryJob, { kind: 'deliver' }> {
  return {
    kind: 'deliver',
    notificationId: notificationIdFor(def.id, evt.id),
    webhookId: def.id,
    event: evt,
  };
}

/**
 * A delivery harness on the stand-ins and a loopback receiver answering 200, for the describe
 * block this is called in: made before its tests, closed after them (also after a failure).
 */
export function useDeliveryHarness(
  standIns: () => StandIns,
  options: HarnessOptions = {},
): {
  readonly harness: DeliveryHarness;
  readonly receiver: Receiver;
} {
  let made: { harness: DeliveryHarness; receiver: Receiver } | undefined;
  const current = () => {
    if (!made) throw new Error('the delivery harness is made in beforeAll (use it inside a test)');
    return made;
  };
  beforeAll(async () => {
    const harness = createDeliveryHarness(standIns(), options);
    made = { harness, receiver: await startReceiver(ok()) };
  });
  afterAll(async () => {
    await made?.harness.close();
    await made?.receiver.close();
  });
  return {
    harness: lateBound(() => current().harness),
    receiver: lateBound(() => current().receiver),
  };
}

/** The SQS-triggered delivery Lambda's handler over a harness's service: 4 jobs at once, quiet. */
export function deliveryHandlerOf(
  service: DeliveryService,
): ReturnType<typeof createDeliveryHandler> {
  return createDeliveryHandler({
    service,
    concurrency: 4,
    logger: quietLogger(),
    metrics: new Metrics({ namespace: 'Webhooks', serviceName: 'webhooks-test' }),
  });
}
