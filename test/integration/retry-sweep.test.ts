/**
 * The retry sweeper: a retry whose execution of the retry machine failed for good (its Attempt
 * task failed every invocation) is restarted by a sweep once the grace has passed. The real
 * sweeper composition root (DynamoDB Local, the product's Step Functions scheduler) against the
 * synthesized retry machine on the local Step Functions endpoint, whose task runs the real
 * attempt handler, and a loopback receiver.
 */
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { SfnRetryScheduler } from '../../lambdas/adapters/sfn-scheduler';
import { composeSweeper } from '../../lambdas/composition/sweeper';
import { ENV } from '../../lambdas/config';
import type { Attempt } from '../../lambdas/core/model';
import {
  type AttemptLambdaInput,
  type RetryStart,
  retryExecutionName,
} from '../../lambdas/core/retry-contract';
import { sweepSlot } from '../../lambdas/core/retry-sweep';
import type { SweeperHandler } from '../../lambdas/handlers/sweeper';
import { synthesizeRetryDefinition } from '../../lib/retry-definition';
import { type SfnEndpoint, startSfnEndpoint } from '../../local/sfn-endpoint';
import {
  createDeliveryHarness,
  type DeliveryHarness,
  definition,
  deliverJob,
  event,
  FAST_SCALE,
  FAST_SCHEDULE,
} from '../support/delivery-harness';
import { type Behaviour, type Receiver, startReceiver } from '../support/receivers';
import { useStandIns, withEnv } from '../support/standins';

const STATE_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:retry-sweep';
const ATTEMPT_FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:attempt';
const MACHINES = {
  retry: STATE_MACHINE,
  health: 'arn:aws:states:us-east-1:000000000000:stateMachine:health-unused',
};
const GRACE_SECONDS = 60;
const SLOT_MS = 900_000;

/** Answers each path's first `failuresPerPath[path]` requests (default 1) with 500, then 200. */
function failFirstPerPath(failuresPerPath: Record<string, number>): Behaviour {
  const seen = new Map<string, number>();
  return (req) => {
    const path = new URL(req.url, 'http://receiver').pathname;
    const n = (seen.get(path) ?? 0) + 1;
    seen.set(path, n);
    return n <= (failuresPerPath[path] ?? 1)
      ? { status: 500, body: `failure ${n}` }
      : { status: 200, body: 'ok' };
  };
}

describe('the retry sweeper restarts retries whose execution failed for good', () => {
  const standIns = useStandIns();
  let harness: DeliveryHarness;
  let receiver: Receiver;
  let endpoint: SfnEndpoint;
  let sfn: SFNClient;
  let sweep: SweeperHandler;
  /** Every invocation of the attempt task, failed ones included. */
  const taskInputs: AttemptLambdaInput[] = [];
  /**
   * Attempt task invocations that fail (as a Lambda error would): by notification id, or by
   * `<notification id>:<retry>`.
   */
  const down = new Set<string>();

  beforeAll(async () => {
    receiver = await startReceiver(failFirstPerPath({ '/fails-twice': 2 }));
    endpoint = await startSfnEndpoint({
      machines: [
        {
          definition: synthesizeRetryDefinition({
            schedule: FAST_SCHEDULE,
            attemptFunctionArn: ATTEMPT_FUNCTION,
          }),
          stateMachineArn: STATE_MACHINE,
        },
      ],
      functions: {
        [ATTEMPT_FUNCTION]: async (payload) => {
          const input = payload as AttemptLambdaInput & { retry?: number };
          taskInputs.push(input);
          if (down.has(input.notificationId) || down.has(`${input.notificationId}:${input.retry}`))
            throw new Error('attempt Lambda unavailable');
          return harness.attempt(input);
        },
      },
      // The Attempt task's own retries (30, 60, 120 s as defined) in milliseconds here.
      retryIntervalScale: FAST_SCALE / 10,
      host: '127.0.0.1',
    });
    sfn = new SFNClient({
      region: 'us-east-1',
      endpoint: endpoint.url,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    harness = createDeliveryHarness(standIns(), {
      scheduler: new SfnRetryScheduler(sfn, MACHINES),
    });
    const env = {
      ...standIns().env,
      AWS_ENDPOINT_URL_SFN: endpoint.url,
      [ENV.RETRY_STATE_MACHINE_ARN]: STATE_MACHINE,
      [ENV.RETRY_SWEEP_GRACE_SECONDS]: String(GRACE_SECONDS),
      [ENV.RETRY_SWEEP_INTERVAL_SECONDS]: String(SLOT_MS / 1000),
    };
    // The composition root reads its configuration from `env`; Powertools from process.env.
    sweep = await withEnv(
      { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' },
      () => composeSweeper(env).handler,
    );
  });
  afterAll(async () => {
    await endpoint?.whenIdle();
    await endpoint?.stop();
    sfn?.destroy();
    await harness?.close();
    await receiver?.close();
  });

  const requestsTo = (path: string) =>
    receiver.requests.filter((r) => new URL(r.url, 'http://receiver').pathname === path);
  const tasksOf = (notificationId: string) =>
    taskInputs.filter((t) => t.notificationId === notificationId);
  const executionStatus = async (start: Omit<RetryStart, 'nextAttemptAt'>) => {
    try {
      const out = await sfn.send(
        new DescribeExecutionCommand({
          executionArn: `${STATE_MACHINE.replace(':stateMachine:', ':execution:')}:${retryExecutionName(start)}`,
        }),
      );
      return out.status;
    } catch (err) {
      if ((err as { name?: string }).name === 'ExecutionDoesNotExist') return 'NONE';
      throw err;
    }
  };
  /** A sweep as the schedule runs it at `at` (the event's time). */
  const sweepAt = (at: number) => sweep({ time: new Date(at).toISOString() });

  /**
   * A first attempt that fails, and a retry 1 execution whose Attempt task fails every
   * invocation: the notification is left WAITING with its nextAttemptAt in the past.
   */
  async function stuck(path: string) {
    const def = definition({ url: `${receiver.url}${path}` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: path }));
    down.add(job.notificationId);
    await harness.service.handleJob(job);
    await endpoint.whenIdle();
    down.delete(job.notificationId);
    const id = job.notificationId;
    expect(await executionStatus({ notificationId: id, retry: 1, after: 1 })).toBe('FAILED');
    const record = (await harness.notifications.get(id))!;
    expect(record).toMatchObject({ status: 'WAITING' });
    expect(record.attempts).toHaveLength(1);
    return { id, dueAt: Date.parse(record.nextAttemptAt!) };
  }

  it('leaves it before the grace, restarts it once after: one request, SENT', async () => {
    const { id, dueAt } = await stuck('/stuck-once');
    const tasksBefore = tasksOf(id).length;
    // The original Attempt task was invoked four times (once and its three retries).
    expect(tasksBefore).toBe(4);

    const early = dueAt + GRACE_SECONDS * 1000 - 1;
    const none = await sweepAt(early);
    expect(none).toMatchObject({ found: 0, started: 0, errors: 0 });
    expect(
      await executionStatus({
        notificationId: id,
        retry: 1,
        after: 1,
        sweepSlot: sweepSlot(new Date(early), SLOT_MS),
      }),
    ).toBe('NONE');

    const at = dueAt + GRACE_SECONDS * 1000 + 1000;
    const swept = await sweepAt(at);
    expect(swept).toMatchObject({ found: 1, started: 1, errors: 0 });
    await endpoint.whenIdle();

    const slot = sweepSlot(new Date(at), SLOT_MS);
    expect(await executionStatus({ notificationId: id, retry: 1, after: 1, sweepSlot: slot })).toBe(
      'SUCCEEDED',
    );
    const record = (await harness.notifications.get(id))!;
    expect(record.status).toBe('SENT');
    expect(record.attempts.map((a) => [a.number, a.trigger, a.outcome])).toEqual([
      [1, 'initial', 'FAILED'],
      [2, 'retry', 'SENT'],
    ]);
    // The first attempt and exactly one retry reached the receiver.
    expect(requestsTo('/stuck-once')).toHaveLength(2);
    expect(tasksOf(id).slice(tasksBefore)).toEqual([
      { action: 'retry', notificationId: id, retry: 1 },
    ]);
  });

  it('starts a retry once per sweep slot: a repeated sweep of the slot starts nothing new', async () => {
    const { id, dueAt } = await stuck('/stuck-twice');
    const at = dueAt + GRACE_SECONDS * 1000 + 1000;
    const slot = sweepSlot(new Date(at), SLOT_MS);

    // The replacement fails for good too (the attempt Lambda is still down).
    down.add(id);
    expect(await sweepAt(at)).toMatchObject({ found: 1, started: 1 });
    await endpoint.whenIdle();
    down.delete(id);
    expect(await executionStatus({ notificationId: id, retry: 1, after: 1, sweepSlot: slot })).toBe(
      'FAILED',
    );
    const tasks = tasksOf(id).length;

    // The same slot again (a redelivered schedule event): the name exists, nothing runs.
    expect(await sweepAt(at + 1)).toMatchObject({ found: 1, started: 1, errors: 0 });
    await endpoint.whenIdle();
    expect(tasksOf(id)).toHaveLength(tasks);
    expect(requestsTo('/stuck-twice')).toHaveLength(1);
    expect((await harness.notifications.get(id))!.status).toBe('WAITING');

    // The next slot restarts it again, under a name of its own.
    expect(await sweepAt(at + SLOT_MS)).toMatchObject({ found: 1, started: 1 });
    await endpoint.whenIdle();
    expect(
      await executionStatus({ notificationId: id, retry: 1, after: 1, sweepSlot: slot + 1 }),
    ).toBe('SUCCEEDED');
    expect((await harness.notifications.get(id))!.status).toBe('SENT');
    expect(requestsTo('/stuck-twice')).toHaveLength(2);
  });

  it('leaves parked notifications and retries due in the future alone', async () => {
    const parked = await stuck('/parked');
    const future = await stuck('/future');
    const at = Math.max(parked.dueAt, future.dueAt) + GRACE_SECONDS * 1000 + 1000;
    // Parked by destination health (its past nextAttemptAt kept, so only the reason excludes
    // it); the other rescheduled to an hour after the sweep.
    const failureReason = 'INVALID_HTTP_RESPONSE' as const;
    expect(
      await harness.notifications.setStatus(
        parked.id,
        {
          status: 'WAITING',
          failureReason,
          nextAttemptAt: new Date(parked.dueAt).toISOString(),
          waitingReason: 'CIRCUIT_OPEN',
        },
        'WAITING',
      ),
    ).toBe(true);
    expect(
      await harness.notifications.setStatus(
        future.id,
        {
          status: 'WAITING',
          failureReason,
          nextAttemptAt: new Date(at + 3_600_000).toISOString(),
        },
        'WAITING',
      ),
    ).toBe(true);
    const tasks = taskInputs.length;

    expect(await sweepAt(at)).toMatchObject({ found: 0, started: 0, errors: 0 });
    await endpoint.whenIdle();

    const slot = sweepSlot(new Date(at), SLOT_MS);
    for (const { id } of [parked, future]) {
      expect(
        await executionStatus({ notificationId: id, retry: 1, after: 1, sweepSlot: slot }),
      ).toBe('NONE');
      expect((await harness.notifications.get(id))!.attempts).toHaveLength(1);
    }
    expect(taskInputs).toHaveLength(tasks);
    expect(requestsTo('/parked')).toHaveLength(1);
    expect(requestsTo('/future')).toHaveLength(1);
    // Out of the way of the other tests' sweeps.
    for (const { id } of [parked, future])
      await harness.notifications.setStatus(
        id,
        { status: 'FAILED', failureReason, nextAttemptAt: null },
        'WAITING',
      );
  });

  it('a late duplicate of a retry the replacement already recorded records nothing and sends nothing', async () => {
    const { id, dueAt } = await stuck('/fails-twice');
    // The replacement makes retry 1 (the receiver fails it again) and starts retry 2, whose
    // Attempt task fails for good: retry 1 is recorded, the notification WAITING for retry 2.
    down.add(`${id}:2`);
    expect(await sweepAt(dueAt + GRACE_SECONDS * 1000 + 1000)).toMatchObject({ started: 1 });
    await endpoint.whenIdle();
    down.delete(`${id}:2`);
    expect(await executionStatus({ notificationId: id, retry: 2, after: 2 })).toBe('FAILED');
    const before = (await harness.notifications.get(id))!;
    expect(before.status).toBe('WAITING');
    expect(before.attempts.map((a) => a.trigger)).toEqual(['initial', 'retry']);
    expect(requestsTo('/fails-twice')).toHaveLength(2);

    // The original execution's retry 1, arriving late (the attempt Lambda's handler).
    const output = await harness.attempt({ action: 'retry', notificationId: id, retry: 1 });
    expect(output.done).toBe(false);
    await endpoint.whenIdle();
    const after = (await harness.notifications.get(id))!;
    expect(after.attempts).toHaveLength(2);
    expect(after.nextAttemptAt).toBe(before.nextAttemptAt);
    expect(requestsTo('/fails-twice')).toHaveLength(2);

    // Both sent at once: the record of attempt 2 is conditional on the count read (1), so
    // the second writer records nothing.
    const attempt2 = before.attempts[1]!;
    expect(
      await harness.notifications.recordAttempt(id, attempt2, {
        status: 'SENT',
        failureReason: null,
        nextAttemptAt: null,
      }),
    ).toBe(false);
    expect((await harness.notifications.get(id))!.attempts).toHaveLength(2);

    // The next sweep restarts retry 2 (not retry 1 again): it goes out and ends SENT.
    const next = Date.parse(before.nextAttemptAt!) + GRACE_SECONDS * 1000 + 1000;
    expect(await sweepAt(next)).toMatchObject({ started: 1 });
    await endpoint.whenIdle();
    expect(
      await executionStatus({
        notificationId: id,
        retry: 2,
        after: 2,
        sweepSlot: sweepSlot(new Date(next), SLOT_MS),
      }),
    ).toBe('SUCCEEDED');
    const sent = (await harness.notifications.get(id))!;
    expect(sent.status).toBe('SENT');
    expect(sent.attempts.map((a) => a.trigger)).toEqual(['initial', 'retry', 'retry']);
    expect(requestsTo('/fails-twice')).toHaveLength(3);
  });
  it('marks FAILED a series whose last retry is recorded but was never marked, sending nothing', async () => {
    const def = definition({ url: `${receiver.url}/series-end` });
    await harness.webhooks.put(def);
    const lastAt = Date.now() - 2 * 3_600_000;
    const failed = (number: number, trigger: Attempt['trigger'], at: number): Attempt => ({
      number,
      trigger,
      startedAt: new Date(at).toISOString(),
      durationMs: 12,
      statusCode: 503,
      outcome: 'FAILED',
      error: 'INVALID_HTTP_RESPONSE',
      responseBody: 'unavailable',
    });
    // What an execution of retry 5 leaves when its task recorded the retry and then failed
    // every invocation before marking the notification FAILED: WAITING for nothing. One record
    // as written now (no nextAttemptAt), one as written before (nextAttemptAt stored as NULL).
    const ids: string[] = [];
    for (const loanId of ['series-end', 'series-end-null']) {
      const job = deliverJob(def, event({ loanId }));
      ids.push(job.notificationId);
      const created = await harness.notifications.create(
        {
          id: job.notificationId,
          webhookId: def.id,
          eventId: job.event.id,
          eventType: job.event.type,
          createdAt: new Date(lastAt - 13 * 3_600_000).toISOString(),
          status: 'WAITING',
          failureReason: 'INVALID_HTTP_RESPONSE',
          nextAttemptAt: null,
          attempts: [
            failed(1, 'initial', lastAt - 13 * 3_600_000),
            ...[2, 3, 4, 5].map((k) => failed(k, 'retry', lastAt - (6 - k) * 3_600_000)),
            failed(6, 'retry', lastAt),
          ],
        },
        Math.floor(Date.now() / 1000) + 86_400,
      );
      expect(created).toBe(true);
    }
    await standIns().clients.dynamo.send(
      new UpdateItemCommand({
        TableName: standIns().tables.notifications,
        Key: { id: { S: ids[1]! } },
        UpdateExpression: 'SET nextAttemptAt = :null',
        ExpressionAttributeValues: { ':null': { NULL: true } },
      }),
    );
    const tasks = taskInputs.length;

    // Within the grace of the last retry: read, left alone.
    const early = await sweepAt(lastAt + GRACE_SECONDS * 1000 - 1000);
    expect(early).toMatchObject({ found: 2, started: 0, skipped: 2, errors: 0 });

    const at = lastAt + GRACE_SECONDS * 1000 + 1000;
    expect(await sweepAt(at)).toMatchObject({ found: 2, started: 2, errors: 0 });
    await endpoint.whenIdle();
    const slot = sweepSlot(new Date(at), SLOT_MS);
    for (const id of ids) {
      expect(
        await executionStatus({ notificationId: id, retry: 5, after: 5, sweepSlot: slot }),
      ).toBe('SUCCEEDED');
      const record = (await harness.notifications.get(id))!;
      expect(record).toMatchObject({
        status: 'FAILED',
        failureReason: 'INVALID_HTTP_RESPONSE',
        nextAttemptAt: null,
      });
      expect(record.attempts).toHaveLength(6);
    }
    // Retry 5 was found recorded: nothing went out.
    expect(requestsTo('/series-end')).toHaveLength(0);
    expect(taskInputs.slice(tasks)).toEqual(
      expect.arrayContaining(ids.map((id) => ({ action: 'retry', notificationId: id, retry: 5 }))),
    );
    expect(taskInputs).toHaveLength(tasks + 2);

    // Settled: the next sweep does not see them any more.
    expect(await sweepAt(at + SLOT_MS)).toMatchObject({ found: 0, started: 0 });
  });
});
