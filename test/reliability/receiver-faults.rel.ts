/**
 * Receiver faults, each against a receiver on 127.0.0.1: every status and network failure a
 * receiver can produce is recorded as the right attempts, status and failure reason, nothing
 * crashes, and memory stays bounded over many repetitions.
 *
 * The recorded outcome is checked end to end once per fault (DynamoDB Local stores, the retry
 * machine CDK synthesizes run in-process, the real attempt handler). The repetitions run the
 * same engine, sender and retry machine over in-memory stores, with the production logger and
 * metrics, whose output is captured for the secrets check. Every other fault's webhook signs
 * with an ed25519 key pair instead of a `whsec_` secret, and the end-to-end events are about a
 * subject (their stored requests sealed with its key): the private key and the subject key are
 * searched for too.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { createHttpSender, type HttpSenderOptions } from '../../lambdas/adapters/http-sender';
import { createDeliveryObserver } from '../../lambdas/adapters/observability';
import { DeliveryService } from '../../lambdas/core/delivery';
import type { FailureReason, Notification, WebhookDefinition } from '../../lambdas/core/model';
import { Renderer } from '../../lambdas/core/render';
import { generateEd25519KeyPair } from '../../lambdas/core/signing-keys';
import { createAttemptHandler } from '../../lambdas/handlers/attempt';
import { standInCipher } from '../../local/standins';
import {
  createDeliveryHarness,
  type DeliveryHarness,
  definition,
  deliverJob,
  event,
  FAST_SCALE,
  FAST_SCHEDULE,
  LOOPBACK_POLICY,
} from '../support/delivery-harness';
import { eventually } from '../support/eventually';
import {
  MemoryDeliveryQueue,
  MemoryNotificationStore,
  MemoryPayloadStore,
  MemoryResendJobStore,
  MemoryWebhookStore,
} from '../support/memory-stores';
import {
  always,
  gone,
  hang,
  huge,
  ok,
  type Receiver,
  redirectTo,
  reset,
  retryAfter,
  slowBody,
  startReceiver,
} from '../support/receivers';
import { createLocalRetryMachine } from '../support/retry-machine';
import { useStandIns } from '../support/standins';
import { mapBounded } from './support/api-client';
import { recordFigures } from './support/figures';
import { settledMemory } from './support/memory';
import { neverReads, type RawReceiver, resetAfterHeaders } from './support/raw-receivers';
import {
  captureProcessOutput,
  needlesOf,
  newSecrets,
  payloadDictionaries,
  platformKeyNeedles,
  platformKeys,
  privateKeyNeedles,
  type SecretSet,
  scannedItemsText,
  searchTexts,
} from './support/secrets';
import { queuedOnPorts } from './support/socket-memory';

const REPETITIONS = 50;
/**
 * Resource bounds (leaks grow with repetitions), not speed thresholds, on what is retained after
 * the warm-up and after the repetitions: two steady states, 650 deliveries apart.
 *
 * The leak these bounds were written for (an exchange with a receiver that never reads, given up
 * with FIN instead of RST, leaves its connection and unsent 200 KiB body behind for minutes)
 * holds its memory in the kernel's socket buffers, not in the process. Measured with the sender's
 * reset disabled, then with it: bytes the kernel holds on the connections to the receivers
 * +60,109,584 (92,476 per delivery) against 0; heap after a full GC +2.2 against +4.3 MiB, RSS
 * +7.2 against +8.2 MiB, external memory 0 in both. So the bound the leak fails is on those
 * bytes, per delivery (a leaked exchange leaves up to its whole body queued, six attempts per
 * delivery); the heap bound catches retained objects, the RSS bound gross growth only.
 */
const SOCKET_BYTES_PER_DELIVERY_BOUND = 1024;
const HEAP_GROWTH_BOUND_MIB = 16;
const RSS_GROWTH_BOUND_MIB = 64;
/** The sender's timeouts where the fault is a timeout (short, so the suite stays fast)... */
const SHORT_TIMEOUT: Partial<HttpSenderOptions> = { totalTimeoutMs: 400, connectTimeoutMs: 400 };
/** ...and everywhere else (long, so a busy machine cannot turn a fast answer into a timeout). */
const LONG_TIMEOUT: Partial<HttpSenderOptions> = {
  totalTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
};
/** A body of about 200 KiB (under the 256 KiB rule), for the receiver that never reads. */
const LARGE_BODY = '{"blob": "{% for i in (1..2000) %}{{ data.chunk }}{% endfor %}"}';

interface Target {
  readonly url: string;
  /** Requests (or connections, for raw receivers) the receiver saw. */
  seen(): number;
  close(): Promise<void>;
  readonly receiver?: Receiver;
  readonly raw?: RawReceiver;
}

interface Fault {
  readonly name: string;
  start(): Promise<Target>;
  /** Default LONG_TIMEOUT. */
  readonly sender?: Partial<HttpSenderOptions>;
  readonly body?: string;
  readonly data?: Record<string, unknown>;
  readonly expected: {
    readonly status: 'SENT' | 'FAILED';
    readonly attempts: number;
    readonly failureReason: FailureReason | null;
    readonly statusCode: number | null;
    readonly error: FailureReason | null;
  };
}

const http =
  (behaviour: Parameters<typeof startReceiver>[0], options?: Parameters<typeof startReceiver>[1]) =>
  async (): Promise<Target> => {
    const receiver = await startReceiver(behaviour, options);
    // A failed TLS handshake never becomes a request: count connections there.
    const seen = options?.tls ? () => receiver.connections : () => receiver.requests.length;
    return { url: `${receiver.url}/hook`, seen, close: () => receiver.close(), receiver };
  };
const raw = (start: () => Promise<RawReceiver>) => async (): Promise<Target> => {
  const r = await start();
  return { url: `${r.url}/hook`, seen: () => r.connections, close: () => r.close(), raw: r };
};
const failedSix = (statusCode: number | null, error: FailureReason) =>
  ({ status: 'FAILED', attempts: 6, failureReason: error, statusCode, error }) as const;

let redirectTarget: Receiver | undefined;

const FAULTS: readonly Fault[] = [
  {
    name: '500',
    start: http(always(500, 'internal')),
    expected: failedSix(500, 'INVALID_HTTP_RESPONSE'),
  },
  {
    name: '502',
    start: http(always(502, 'bad gateway')),
    expected: failedSix(502, 'INVALID_HTTP_RESPONSE'),
  },
  {
    name: '503',
    start: http(always(503, 'unavailable')),
    expected: failedSix(503, 'INVALID_HTTP_RESPONSE'),
  },
  {
    name: '429 with Retry-After',
    start: http(retryAfter(1)),
    expected: failedSix(429, 'INVALID_HTTP_RESPONSE'),
  },
  {
    name: '410 Gone (permanent, no retry)',
    start: http(gone()),
    expected: {
      status: 'FAILED',
      attempts: 1,
      failureReason: 'INVALID_HTTP_RESPONSE',
      statusCode: 410,
      error: 'INVALID_HTTP_RESPONSE',
    },
  },
  {
    name: 'no response (hang)',
    start: http(hang()),
    sender: SHORT_TIMEOUT,
    expected: failedSix(null, 'TIMEOUT'),
  },
  {
    name: 'body slower than the timeout',
    start: http(slowBody(50)),
    sender: SHORT_TIMEOUT,
    expected: failedSix(null, 'TIMEOUT'),
  },
  {
    name: 'reset before any response',
    start: http(reset()),
    expected: failedSix(null, 'CONNECTION_ERROR'),
  },
  {
    name: 'reset after the headers (mid-response)',
    start: raw(resetAfterHeaders),
    expected: failedSix(null, 'CONNECTION_ERROR'),
  },
  {
    name: 'untrusted TLS certificate',
    start: http(ok(), { tls: true }),
    expected: failedSix(null, 'TLS_ERROR'),
  },
  {
    name: '302 redirect to a loopback receiver',
    start: async () => {
      redirectTarget ??= await startReceiver(ok());
      return http(redirectTo(`${redirectTarget.url}/redirected`))();
    },
    expected: failedSix(302, 'INVALID_HTTP_RESPONSE'),
  },
  {
    name: '100 MiB response body',
    start: http(huge(100 * 1024 * 1024)),
    expected: { status: 'SENT', attempts: 1, failureReason: null, statusCode: 200, error: null },
  },
  {
    name: 'accepts and never reads (200 KiB request)',
    start: raw(neverReads),
    sender: SHORT_TIMEOUT,
    body: LARGE_BODY,
    data: { chunk: 'x'.repeat(100) },
    expected: failedSix(null, 'TIMEOUT'),
  },
];

/** The key pair every other fault's webhook signs with (ed25519, `v1a`). */
const SIGNING_KEY = generateEd25519KeyPair();
/** Whom the end-to-end events are about: their stored requests are sealed with its key. */
const SUBJECT = 'client-faults';

function faultDefinition(fault: Fault, url: string, secrets: SecretSet): WebhookDefinition {
  return definition({
    url,
    name: `fault ${fault.name}`,
    body: fault.body ?? '{"loan": {{ data.loanId | json }}}',
    auth: { type: 'basic', username: secrets.username, password: secrets.password },
    ...(FAULTS.indexOf(fault) % 2 === 1
      ? { signingKey: SIGNING_KEY }
      : { signingSecret: secrets.signingSecret }),
  });
}

/** The given secrets and the private key, in every form they could leak in. */
function secretNeedles(secrets: SecretSet): string[] {
  return [...needlesOf(secrets), ...privateKeyNeedles(SIGNING_KEY.privateKey)];
}

/** The engine over in-memory stores with the production observer (logger + metrics). */
function memoryEngine(senderOptions: Partial<HttpSenderOptions>) {
  const webhooks = new MemoryWebhookStore();
  const notifications = new MemoryNotificationStore();
  const payloads = new MemoryPayloadStore();
  const sender = createHttpSender({ policy: LOOPBACK_POLICY, ...senderOptions });
  const logger = new Logger({ serviceName: 'webhooks-reliability' });
  const metrics = new Metrics({ namespace: 'Webhooks', serviceName: 'webhooks-reliability' });
  let attempt: ReturnType<typeof createAttemptHandler> | undefined;
  const machine = createLocalRetryMachine((input) => attempt!(input), FAST_SCHEDULE);
  const service = new DeliveryService({
    webhooks,
    notifications,
    payloads,
    resendJobs: new MemoryResendJobStore(),
    queue: new MemoryDeliveryQueue(),
    scheduler: machine,
    sender,
    renderer: new Renderer(),
    clock: { now: () => new Date() },
    observer: createDeliveryObserver(logger, metrics),
    settings: { schedule: FAST_SCHEDULE, timeScale: FAST_SCALE, retentionDays: 1 },
  });
  attempt = createAttemptHandler({ service, metrics });
  return { service, webhooks, notifications, machine, close: () => sender.close() };
}

function summary(n: Notification | undefined) {
  return {
    status: n?.status,
    attempts: n?.attempts.length,
    failureReason: n?.failureReason,
    statusCodes: [...new Set(n?.attempts.map((a) => a.statusCode))],
    errors: [...new Set(n?.attempts.map((a) => a.error))],
  };
}

function expectedSummary(f: Fault) {
  return {
    status: f.expected.status,
    attempts: f.expected.attempts,
    failureReason: f.expected.failureReason,
    statusCodes: [f.expected.statusCode],
    errors: [f.expected.error],
  };
}

describe('receiver faults: recorded right, no crash, bounded memory', () => {
  const standIns = useStandIns();
  const targets: Target[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const secrets = newSecrets('faults');
  const figures: Record<string, unknown> = {};

  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await Promise.all([...targets.map((t) => t.close()), redirectTarget?.close()]);
    recordFigures('receiverFaults', figures);
  });

  it.each(FAULTS.map((f) => [f.name, f] as const))(
    '%s: attempts, status and reason are recorded (DynamoDB, retry machine)',
    async (_name, fault) => {
      const target = await fault.start();
      targets.push(target);
      const harness: DeliveryHarness = createDeliveryHarness(standIns(), {
        sender: fault.sender ?? LONG_TIMEOUT,
      });
      const def = faultDefinition(fault, target.url, secrets);
      await harness.webhooks.put(def);
      const job = deliverJob(def, {
        ...event({ loanId: fault.name, ...fault.data }),
        subject: SUBJECT,
      });

      let notification: Notification | undefined;
      try {
        await harness.service.handleJob(job);
        await harness.machine.settle();
        notification = await harness.notifications.get(job.notificationId);
      } finally {
        await harness.close();
      }
      expect(summary(notification)).toEqual(expectedSummary(fault));
      const outcomes = (figures.outcomes ?? {}) as Record<string, string>;
      const s = summary(notification);
      outcomes[fault.name] =
        `${s.status} after ${s.attempts} attempt(s); reason ${s.failureReason ?? 'none'}; ` +
        `status codes ${s.statusCodes.map((c) => c ?? 'none').join(', ')}; attempt errors ${s.errors.map((e) => e ?? 'none').join(', ')}`;
      figures.outcomes = outcomes;
      expect(notification!.attempts.map((a) => a.number)).toEqual(
        Array.from({ length: fault.expected.attempts }, (_, i) => i + 1),
      );
      expect(notification!.nextAttemptAt).toBeNull();
      // Every attempt reached the receiver: none was skipped, none sent twice. (After a timeout the
      // pool opens one spare connection that carries no request, so raw sockets count up to two.)
      if (target.raw) {
        expect(target.seen()).toBeGreaterThanOrEqual(fault.expected.attempts);
        expect(target.seen()).toBeLessThanOrEqual(2 * fault.expected.attempts);
      } else {
        expect(target.seen()).toBe(fault.expected.attempts);
      }
      for (const a of notification!.attempts)
        expect((a.responseBody ?? '').length).toBeLessThanOrEqual(1024);
      if (target.receiver?.streamed.length) {
        const streamed = target.receiver.streamed[0]!;
        await Promise.race([streamed.ended, new Promise((r) => setTimeout(r, 2000).unref())]);
        // The sender stops at its 1 KiB cap; what the receiver could push is socket buffers, far below 100 MiB.
        expect(streamed.completed).toBe(false);
        expect(streamed.bytesWritten).toBeLessThan(16 * 1024 * 1024);
        figures.hugeResponseBytesWritten = streamed.bytesWritten;
      }
      if (fault.name.startsWith('302')) expect(redirectTarget!.requests).toEqual([]);
      if (target.raw && fault.name.startsWith('accepts')) {
        expect(target.raw.bytesRead).toBe(0);
        // A timed-out exchange must give its connection up (else every such attempt holds a
        // socket and its unsent body). Idle keep-alive connections close within seconds.
        const open = await eventually(() => (target.raw!.open() === 0 ? 0 : undefined), 8000).catch(
          () => target.raw!.open(),
        );
        figures.neverReadsSocketsLeftOpen = open;
        expect(open).toBe(0);
      }
    },
  );

  it(`${REPETITIONS} repetitions of every fault: no crash, no unhandled rejection, bounded memory, no secret in the logs`, async () => {
    const capture = captureProcessOutput();
    const needles = secretNeedles(secrets);
    const perFault: Record<
      string,
      {
        heapDeltaMiB: number;
        rssDeltaMiB: number;
        externalDeltaMiB: number;
        socketBytesDelta: number;
        ms: number;
      }
    > = {};
    let before: Awaited<ReturnType<typeof settledMemory>>;
    let after: Awaited<ReturnType<typeof settledMemory>>;
    let socketsBefore: ReturnType<typeof queuedOnPorts>;
    let socketsAfter: ReturnType<typeof queuedOnPorts>;
    let ports: number[] = [];
    const wrong: string[] = [];
    const findings: unknown[] = [];
    let logLines = 0;
    let failureLogs = 0;
    // Logs are searched as they come and then dropped, so they do not count as retained memory.
    const searchLogs = () => {
      const text = capture.take();
      logLines += text.split('\n').filter((l) => l.trim() !== '').length;
      failureLogs += (text.match(/"notification failed"/g) ?? []).length;
      findings.push(...searchTexts([{ where: 'in-process delivery logs', text }], needles));
    };
    /** n deliveries of one fault on a fresh engine, which is dropped afterwards (nothing retained by design). */
    const run = async (fault: Fault, target: Target, n: number) => {
      const engine = memoryEngine(fault.sender ?? LONG_TIMEOUT);
      try {
        const def = faultDefinition(fault, target.url, secrets);
        await engine.webhooks.put(def);
        const jobs = Array.from({ length: n }, () =>
          deliverJob(def, event({ loanId: fault.name, ...fault.data })),
        );
        await mapBounded(jobs, 25, (job) => engine.service.handleJob(job));
        await engine.machine.settle();
        for (const job of jobs) {
          const s = summary(await engine.notifications.get(job.notificationId));
          if (JSON.stringify(s) !== JSON.stringify(expectedSummary(fault)))
            wrong.push(`${fault.name}: ${JSON.stringify(s)}`);
        }
      } finally {
        await engine.close();
        searchLogs();
      }
    };
    try {
      const prepared: { fault: Fault; target: Target }[] = [];
      for (const fault of FAULTS) {
        const target = await fault.start();
        targets.push(target);
        prepared.push({ fault, target });
      }
      ports = prepared.map((p) => Number(new URL(p.target.url).port));
      // Warm-up: TLS contexts, compiled templates, JIT and pools exist before the baseline.
      await Promise.all(prepared.map((p) => run(p.fault, p.target, 3)));
      before = await settledMemory();
      socketsBefore = queuedOnPorts(ports);
      for (const p of prepared) {
        const m0 = await settledMemory();
        const s0 = queuedOnPorts(ports);
        const t0 = performance.now();
        await run(p.fault, p.target, REPETITIONS);
        const ms = Math.round(performance.now() - t0);
        const m1 = await settledMemory();
        const s1 = queuedOnPorts(ports);
        perFault[p.fault.name] = {
          ms,
          heapDeltaMiB: Math.round((m1.heapUsedMiB - m0.heapUsedMiB) * 10) / 10,
          rssDeltaMiB: Math.round((m1.rssMiB - m0.rssMiB) * 10) / 10,
          externalDeltaMiB: Math.round((m1.externalMiB - m0.externalMiB) * 10) / 10,
          socketBytesDelta: s1.bytes - s0.bytes,
        };
      }
      after = await settledMemory();
      socketsAfter = queuedOnPorts(ports);
    } finally {
      capture.restore();
    }
    const deliveries = REPETITIONS * FAULTS.length;
    const growth = {
      rssMiB: Math.round((after.rssMiB - before.rssMiB) * 10) / 10,
      heapUsedMiB: Math.round((after.heapUsedMiB - before.heapUsedMiB) * 10) / 10,
      externalMiB: Math.round((after.externalMiB - before.externalMiB) * 10) / 10,
    };
    const socketGrowthBytes = socketsAfter.bytes - socketsBefore.bytes;
    const socketBytesPerDelivery = Math.round((socketGrowthBytes / deliveries) * 10) / 10;
    Object.assign(figures, {
      repetitionsPerFault: REPETITIONS,
      faults: FAULTS.length,
      deliveries,
      memoryBefore: before,
      memoryAfter: after,
      growthMiB: growth,
      socketsBefore,
      socketsAfter,
      socketBytesGrowth: socketGrowthBytes,
      socketBytesPerDelivery,
      perFault,
      logLines,
      bounds: {
        socketBytesPerDelivery: SOCKET_BYTES_PER_DELIVERY_BOUND,
        heapGrowthMiB: HEAP_GROWTH_BOUND_MIB,
        rssGrowthMiB: RSS_GROWTH_BOUND_MIB,
      },
    });

    expect(wrong).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(socketBytesPerDelivery).toBeLessThanOrEqual(SOCKET_BYTES_PER_DELIVERY_BOUND);
    expect(growth.heapUsedMiB).toBeLessThan(HEAP_GROWTH_BOUND_MIB);
    expect(growth.rssMiB).toBeLessThan(RSS_GROWTH_BOUND_MIB);
    // The production observer did log failures (so the search searched something).
    expect(failureLogs).toBeGreaterThan(0);
    expect(findings).toEqual([]);
    // A bound on a hang, not on speed: the repetitions take minutes on a loaded machine.
  }, 1_800_000);

  it('no secret, private key or subject key in the history written to DynamoDB (Notifications and Payloads tables scanned directly)', async () => {
    const s = standIns();
    const client: DynamoDBClient = s.clients.dynamo;
    const texts = [];
    for (const table of [s.tables.notifications, s.tables.payloads]) {
      const dictionaries = await payloadDictionaries(client, table);
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new ScanCommand({ TableName: table, ExclusiveStartKey: ExclusiveStartKey as never }),
        );
        texts.push({ where: `table ${table}`, text: scannedItemsText(page.Items, dictionaries) });
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    }
    // The subject key, opened from its table as the platform does; it opens every stored request.
    const made = await platformKeys(client, s.tables, standInCipher(s), []);
    const needles = [...secretNeedles(secrets), ...platformKeyNeedles(made)];
    figures.keysSearched = {
      subjectKeys: made.subjectKeys.length,
      sealedRequests: made.sealedPayloads,
      sealedRequestsOpened: made.sealedPayloadsOpened,
      needles: needles.length,
    };
    expect(made.subjectKeys).toHaveLength(1);
    expect(made.sealedPayloads).toBeGreaterThan(0);
    expect(made.sealedPayloadsOpened).toBe(made.sealedPayloads);
    // The scan found the history written above, and would find a needle planted in it.
    expect(texts.map((t) => t.text).join('')).toContain('INVALID_HTTP_RESPONSE');
    const planted = searchTexts([{ where: 'planted', text: JSON.stringify(needles) }], needles);
    expect(new Set(planted.map((f) => f.needle)).size).toBe(new Set(needles).size);
    expect(searchTexts(texts, needles)).toEqual([]);
  });
});
