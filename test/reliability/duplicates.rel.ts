/**
 * Duplicates: an SQS message delivered twice (real redelivery through fauxqs after its
 * visibility timeout, and two copies in one batch), a retry execution started twice through
 * the local Step Functions endpoint (real SFN client), and a retry task run twice. Nothing may
 * record a second attempt or start a second execution.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import {
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoResendJobStore,
  DynamoWebhookStore,
} from '../../lambdas/adapters/dynamo-stores';
import { createHttpSender } from '../../lambdas/adapters/http-sender';
import { SfnRetryScheduler } from '../../lambdas/adapters/sfn-scheduler';
import { SqsDeliveryQueue } from '../../lambdas/adapters/sqs-queue';
import { DeliveryService } from '../../lambdas/core/delivery';
import { Renderer } from '../../lambdas/core/render';
import {
  type AttemptLambdaInput,
  retryExecutionName,
  retryExecutionPrefix,
} from '../../lambdas/core/retry-contract';
import { createAttemptHandler } from '../../lambdas/handlers/attempt';
import { createDeliveryHandler } from '../../lambdas/handlers/delivery';
import type { RetryScheduler } from '../../lambdas/ports';
import { synthesizeRetryDefinition } from '../../lib/retry-definition';
import {
  executionsJournalPath,
  type SfnEndpoint,
  startSfnEndpoint,
} from '../../local/sfn-endpoint';
import { toRecord } from '../../local/sqs-poller';
import { standInCipher } from '../../local/standins';
import { TEST_CURSOR_KEY } from '../support/cursor-key';
import {
  definition,
  deliverJob,
  event,
  FAST_SCALE,
  FAST_SCHEDULE,
  LOOPBACK_POLICY,
  quietLogger,
  recordingObserver,
} from '../support/delivery-harness';
import { eventually } from '../support/eventually';
import { type Behaviour, ok, type Receiver, startReceiver } from '../support/receivers';
import { useStandIns } from '../support/standins';
import { recordFigures } from './support/figures';

const REGION = 'us-east-1';

/** Fails the first `n` requests of each notification (by webhook-id) with `status`, then 200. */
function failFirstPerNotification(n: number, status: number): Behaviour {
  const seen = new Map<string, number>();
  return (req) => {
    const id = String(req.headers['webhook-id']);
    const count = (seen.get(id) ?? 0) + 1;
    seen.set(id, count);
    return count <= n ? { status, body: `failure ${count}` } : { status: 200, body: 'ok' };
  };
}
const MACHINE_ARN = `arn:aws:states:${REGION}:000000000000:stateMachine:webhooks-retry-reliability`;
/** The retry machine is all these tests run; health drivers are not started. */
const MACHINES = {
  retry: MACHINE_ARN,
  health: `arn:aws:states:${REGION}:000000000000:stateMachine:webhooks-health-reliability`,
};
const ATTEMPT_ARN = `arn:aws:lambda:${REGION}:000000000000:function:webhooks-attempt-reliability`;

describe('duplicates: no second attempt, no second execution', () => {
  const standIns = useStandIns({ prefix: 'dup-', visibilityTimeoutSeconds: 1 });
  let receiver: Receiver;
  let sfn: SfnEndpoint;
  let sfnClient: SFNClient;
  const startExecutionCalls = new Map<string, number>();
  let dataDir: string;
  let service: DeliveryService;
  let stores: {
    webhooks: DynamoWebhookStore;
    notifications: DynamoNotificationStore;
  };
  let closeSender: () => Promise<void>;
  const figures: Record<string, unknown> = {};
  /** Swappable, so one test can run retries by hand without the state machine. */
  let scheduler: RetryScheduler;

  beforeAll(async () => {
    receiver = await startReceiver(ok());
    dataDir = mkdtempSync(path.join(tmpdir(), 'rel-dup-'));
    const s = standIns();
    let attempt: ReturnType<typeof createAttemptHandler> | undefined;
    sfn = await startSfnEndpoint({
      machines: [
        {
          definition: synthesizeRetryDefinition({
            schedule: FAST_SCHEDULE,
            attemptFunctionArn: ATTEMPT_ARN,
          }),
          stateMachineArn: MACHINE_ARN,
        },
      ],
      functions: { [ATTEMPT_ARN]: async (payload) => attempt!(payload as AttemptLambdaInput) },
      dataDir,
    });
    sfnClient = new SFNClient({
      region: REGION,
      endpoint: sfn.url,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    // Every StartExecution the client sends, by execution name (counted, not assumed).
    sfnClient.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'StartExecutionCommand') {
          const name = String((args.input as { name?: string }).name);
          startExecutionCalls.set(name, (startExecutionCalls.get(name) ?? 0) + 1);
        }
        return next(args);
      },
      { step: 'initialize', name: 'countStartExecution' },
    );
    const sender = createHttpSender({ policy: LOOPBACK_POLICY });
    closeSender = () => sender.close();
    const webhooks = new DynamoWebhookStore(s.clients.dynamo, s.tables.webhooks, standInCipher(s));
    stores = {
      webhooks,
      notifications: new DynamoNotificationStore(
        s.clients.dynamo,
        s.tables.notifications,
        TEST_CURSOR_KEY,
        webhooks,
      ),
    };
    const sfnScheduler = new SfnRetryScheduler(sfnClient, MACHINES);
    scheduler = sfnScheduler;
    service = new DeliveryService({
      ...stores,
      payloads: new DynamoPayloadStore(s.clients.dynamo, s.tables.payloads),
      resendJobs: new DynamoResendJobStore(s.clients.dynamo, s.tables.notifications),
      queue: new SqsDeliveryQueue(s.clients.sqs, s.queueUrl),
      scheduler: { start: (input) => scheduler.start(input) },
      sender,
      renderer: new Renderer(),
      clock: { now: () => new Date() },
      observer: recordingObserver(),
      settings: { schedule: FAST_SCHEDULE, timeScale: FAST_SCALE, retentionDays: 1 },
    });
    attempt = createAttemptHandler({
      service,
      metrics: new Metrics({ namespace: 'Webhooks', serviceName: 'dup' }),
    });
  });

  afterAll(async () => {
    await sfn?.stop();
    sfnClient?.destroy();
    await closeSender?.();
    await receiver?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    recordFigures('duplicates', figures);
  });

  beforeEach(() => {
    receiver.requests.length = 0;
    receiver.setBehaviour(ok());
  });

  const handler = () =>
    createDeliveryHandler({
      service,
      concurrency: 16,
      logger: quietLogger(),
      metrics: new Metrics({ namespace: 'Webhooks', serviceName: 'dup' }),
    });

  const requestsFor = (notificationId: string) =>
    receiver.requests.filter((r) => r.headers['webhook-id'] === notificationId);

  it('an SQS message redelivered after its visibility timeout (same MessageId, receive count 2) makes one attempt', async () => {
    const s = standIns();
    const def = definition({ url: `${receiver.url}/redelivered` });
    await stores.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-redelivered' }));
    await new SqsDeliveryQueue(s.clients.sqs, s.queueUrl).enqueue([job]);
    const receive = async () => {
      const out = await s.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: s.queueUrl,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: 5,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      return out.Messages?.[0];
    };

    const first = await receive();
    await handler()({
      Records: [toRecord(first!, 'arn:aws:sqs:us-east-1:000000000000:dup', REGION)],
    });
    // Not deleted (as if the Lambda timed out before acknowledging): SQS hands it out again.
    const second = await eventually(async () => (await receive()) ?? undefined, 15_000);
    const response = await handler()({
      Records: [toRecord(second, 'arn:aws:sqs:us-east-1:000000000000:dup', REGION)],
    });

    expect(second.MessageId).toBe(first!.MessageId);
    expect(Number(second.Attributes?.ApproximateReceiveCount)).toBeGreaterThanOrEqual(2);
    expect(response.batchItemFailures).toEqual([]);
    expect(requestsFor(job.notificationId)).toHaveLength(1);
    const n = await stores.notifications.get(job.notificationId);
    expect(n?.attempts).toHaveLength(1);
    expect(n?.status).toBe('SENT');
  });

  it('two copies of one job in the same batch are sent and recorded once', async () => {
    const def = definition({ url: `${receiver.url}/same-batch` });
    await stores.webhooks.put(def);
    const extraSends: number[] = [];
    let recordedAttempts = 0;
    for (let i = 0; i < 10; i++) {
      const job = deliverJob(def, event({ loanId: `L-batch-${i}` }));
      const body = JSON.stringify(job);
      const records = [1, 2].map((k) =>
        toRecord(
          { MessageId: `m-${i}-${k}`, ReceiptHandle: `r-${i}-${k}`, Body: body, Attributes: {} },
          'arn:aws:sqs:us-east-1:0:dup',
          REGION,
        ),
      );
      const response = await handler()({ Records: records });
      expect(response.batchItemFailures).toEqual([]);
      const n = await stores.notifications.get(job.notificationId);
      expect(n?.attempts).toHaveLength(1);
      recordedAttempts += n?.attempts.length ?? 0;
      const seen = requestsFor(job.notificationId);
      expect(seen).toHaveLength(1);
      extraSends.push(seen.length - 1);
    }
    figures.sameBatchCopies = {
      jobs: 10,
      recordedAttempts,
      extraHttpSends: extraSends.reduce((a, b) => a + b, 0),
    };
  });

  it('a failed first attempt delivered twice starts one execution per retry (local Step Functions endpoint); retries run once each', async () => {
    receiver.setBehaviour(failFirstPerNotification(2, 503));
    const def = definition({ url: `${receiver.url}/retried` });
    await stores.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-retried' }));
    const record = (k: number) =>
      toRecord(
        {
          MessageId: `retried-${k}`,
          ReceiptHandle: `r-${k}`,
          Body: JSON.stringify(job),
          Attributes: {},
        },
        'arn:aws:sqs:us-east-1:0:dup',
        REGION,
      );

    await handler()({ Records: [record(1)] });
    // The duplicate arrives while the execution waits for retry 1: it asks for the execution again.
    await handler()({ Records: [record(2)] });
    const retry1 = { notificationId: job.notificationId, retry: 1, after: 1 };
    const retry2 = { notificationId: job.notificationId, retry: 2, after: 2 };
    const input = { ...retry1, nextAttemptAt: new Date().toISOString() };
    await new SfnRetryScheduler(sfnClient, MACHINES).start(input);
    // A different input under the same name is refused by the endpoint, as on AWS.
    const conflicting = await sfnClient
      .send(
        new StartExecutionCommand({
          stateMachineArn: MACHINE_ARN,
          name: retryExecutionName(retry1),
          input: JSON.stringify({ ...input, nextAttemptAt: new Date(0).toISOString() }),
        }),
      )
      .then(
        () => 'started',
        (err: unknown) =>
          err instanceof ExecutionAlreadyExists ? 'ExecutionAlreadyExists' : String(err),
      );

    // Retry 1 fails and starts retry 2's execution, which sends it.
    const ended = (start: typeof retry1) =>
      eventually(async () => {
        const executionArn = `${MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${retryExecutionName(start)}`;
        const d = await sfnClient
          .send(new DescribeExecutionCommand({ executionArn }))
          .catch(() => undefined);
        return d === undefined || d.status === 'RUNNING' ? undefined : d;
      }, 30_000);
    const done = [await ended(retry1), await ended(retry2)];

    expect(conflicting).toBe('ExecutionAlreadyExists');
    expect(done.map((d) => d.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const journal = readFileSync(executionsJournalPath(dataDir, MACHINE_ARN), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { t: string; name: string });
    const starts = journal.filter(
      (r) => r.t === 'start' && r.name.startsWith(retryExecutionPrefix(job.notificationId)),
    );
    expect(starts.map((r) => r.name)).toEqual([retry1, retry2].map((r) => retryExecutionName(r)));
    const n = await stores.notifications.get(job.notificationId);
    expect(n?.status).toBe('SENT');
    expect(n?.attempts.map((a) => [a.number, a.trigger, a.statusCode])).toEqual([
      [1, 'initial', 503],
      [2, 'retry', 503],
      [3, 'retry', 200],
    ]);
    expect(requestsFor(job.notificationId)).toHaveLength(3);
    figures.retryExecution = {
      startExecutionCalls: startExecutionCalls.get(retryExecutionName(retry1)) ?? 0,
      executionsStarted: starts.length,
      attemptsRecorded: n?.attempts.length ?? 0,
      receiverRequests: requestsFor(job.notificationId).length,
    };
    // The first delivery, the start by hand and the conflicting start at least (the duplicate
    // delivery asks again only if it came before retry 1 ran): several starts, one execution.
    expect(startExecutionCalls.get(retryExecutionName(retry1))).toBeGreaterThanOrEqual(3);
    expect(startExecutionCalls.get(retryExecutionName(retry2))).toBe(1);
  });

  it('a retry task run twice (Step Functions task retry) sends once when sequential, records once when concurrent', async () => {
    // Retries by hand: the scheduler records instead of starting the machine.
    const started: string[] = [];
    scheduler = { start: async (input) => void started.push(input.notificationId) };
    const attempt = createAttemptHandler({
      service,
      metrics: new Metrics({ namespace: 'Webhooks', serviceName: 'dup' }),
    });
    try {
      receiver.setBehaviour(failFirstPerNotification(1, 500));
      const def = definition({ url: `${receiver.url}/task-twice` });
      await stores.webhooks.put(def);
      const sequential = deliverJob(def, event({ loanId: 'L-seq' }));
      await service.handleJob(sequential);
      const a = await attempt({
        action: 'retry',
        notificationId: sequential.notificationId,
        retry: 1,
      });
      const b = await attempt({
        action: 'retry',
        notificationId: sequential.notificationId,
        retry: 1,
      });
      expect(a.done).toBe(true);
      expect(b.done).toBe(true);
      expect(requestsFor(sequential.notificationId)).toHaveLength(2);
      expect((await stores.notifications.get(sequential.notificationId))?.attempts).toHaveLength(2);

      const concurrent = deliverJob(def, event({ loanId: 'L-conc' }));
      await service.handleJob(concurrent);
      await Promise.all(
        [1, 2].map(() =>
          attempt({ action: 'retry', notificationId: concurrent.notificationId, retry: 1 }),
        ),
      );
      const n = await stores.notifications.get(concurrent.notificationId);
      expect(n?.attempts.map((x) => x.trigger)).toEqual(['initial', 'retry']);
      const sends = requestsFor(concurrent.notificationId).length;
      expect(sends).toBeGreaterThanOrEqual(2);
      expect(sends).toBeLessThanOrEqual(3);
      figures.retryTaskTwice = {
        sequentialExtraSends: requestsFor(sequential.notificationId).length - 2,
        concurrentExtraSends: sends - 2,
        recordedAttempts: n?.attempts.length ?? 0,
      };
      expect(started).toEqual([sequential.notificationId, concurrent.notificationId]);
    } finally {
      scheduler = new SfnRetryScheduler(sfnClient, MACHINES);
    }
  });
});
