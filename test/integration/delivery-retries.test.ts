/**
 * Failures and retries: the synthesized retry state machine, run by aws-local-stepfunctions,
 * drives the real attempt handler against receivers on 127.0.0.1.
 */
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { SfnRetryScheduler } from '../../lambdas/adapters/sfn-scheduler';
import {
  type AttemptLambdaInput,
  type RetryStart,
  retryExecutionName,
  retryExecutionPrefix,
} from '../../lambdas/core/retry-contract';
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
import {
  always,
  failTimes,
  gone,
  ok,
  type Receiver,
  redirectTo,
  reset,
  retryAfter,
  startReceiver,
} from '../support/receivers';
import { useStandIns } from '../support/standins';

describe('failed attempts and automatic retries', () => {
  const standIns = useStandIns();
  let harness: DeliveryHarness;
  let receiver: Receiver;

  beforeAll(async () => {
    // The product's timeouts everywhere but toward the receiver that never answers: a short
    // timeout there is a TIMEOUT on any machine, and no fast answer can be turned into one.
    harness = createDeliveryHarness(standIns(), {
      senderFor: {
        match: (url) => new URL(url).pathname === '/hang',
        options: { totalTimeoutMs: 300, connectTimeoutMs: 300 },
      },
    });
    receiver = await startReceiver(ok());
  });
  afterAll(async () => {
    await harness?.close();
    await receiver?.close();
  });
  beforeEach(() => {
    receiver.requests.length = 0;
  });

  async function deliver(path: string, behaviour: Parameters<Receiver['setBehaviour']>[0]) {
    receiver.setBehaviour(behaviour);
    const def = definition({ url: `${receiver.url}${path}` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: path }));
    await harness.service.handleJob(job);
    return { def, job };
  }

  /** The retry executions of a notification, in the order started. */
  const executionsOf = (notificationId: string) =>
    [...harness.machine.executions.keys()].filter((name) =>
      name.startsWith(retryExecutionPrefix(notificationId)),
    );

  it('a receiver that always fails gets 1 + 5 attempts, one execution each retry, with growing gaps, and the notification ends FAILED', async () => {
    const { job } = await deliver('/always-500', always(500, 'boom'));
    expect(await harness.notifications.get(job.notificationId)).toMatchObject({
      status: 'WAITING',
    });

    await harness.machine.settle();

    const notification = await harness.notifications.get(job.notificationId);
    expect(notification).toMatchObject({
      status: 'FAILED',
      failureReason: 'INVALID_HTTP_RESPONSE',
      nextAttemptAt: null,
    });
    expect(
      notification!.attempts.map((a) => [a.number, a.trigger, a.statusCode, a.outcome, a.error]),
    ).toEqual([
      [1, 'initial', 500, 'FAILED', 'INVALID_HTTP_RESPONSE'],
      [2, 'retry', 500, 'FAILED', 'INVALID_HTTP_RESPONSE'],
      [3, 'retry', 500, 'FAILED', 'INVALID_HTTP_RESPONSE'],
      [4, 'retry', 500, 'FAILED', 'INVALID_HTTP_RESPONSE'],
      [5, 'retry', 500, 'FAILED', 'INVALID_HTTP_RESPONSE'],
      [6, 'retry', 500, 'FAILED', 'INVALID_HTTP_RESPONSE'],
    ]);
    expect(notification!.attempts[0]!.responseBody).toBe('boom');
    expect(receiver.requests).toHaveLength(6);
    // The waits asked for follow the schedule (+-20 % jitter): each step roughly doubles here.
    const calls = harness.machine.calls.filter(
      (c) => c.input.notificationId === job.notificationId,
    );
    // Retry k in its own execution, started after attempt k (the first attempt, then retry
    // k-1) failed; the fifth marks the notification FAILED and starts nothing more.
    const names = [1, 2, 3, 4, 5].map((k) =>
      retryExecutionName({ notificationId: job.notificationId, retry: k, after: k }),
    );
    expect(calls.map((c) => [c.execution, c.input])).toEqual(
      names.map((name, i) => [
        name,
        { action: 'retry', notificationId: job.notificationId, retry: i + 1 },
      ]),
    );
    expect(executionsOf(job.notificationId)).toEqual(names);
    const waits = harness.observer.events
      .filter((e) => e.kind === 'retryScheduled' && e.ref.notificationId === job.notificationId)
      .map((e) => e.detail as number);
    expect(waits).toHaveLength(5);
    waits.forEach((wait, step) => {
      const nominal = FAST_SCHEDULE[step]! * FAST_SCALE;
      expect(wait).toBeGreaterThanOrEqual(nominal * 0.8 - 1e-9);
      expect(wait).toBeLessThanOrEqual(nominal * 1.2 + 1e-9);
    });
    // Each retry came no earlier than the wait asked for before it.
    const gaps = receiver.requests.slice(1).map((r, i) => r.at - receiver.requests[i]!.at);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(waits[i]! * 1000 - 5);
    });
  });

  it('a receiver that recovers at attempt 3 ends SENT with 3 attempts and no further retries', async () => {
    const { job } = await deliver('/recovers', failTimes(2, 503));

    await harness.machine.settle();

    const notification = await harness.notifications.get(job.notificationId);
    expect(notification).toMatchObject({
      status: 'SENT',
      failureReason: null,
      nextAttemptAt: null,
    });
    expect(notification!.attempts.map((a) => [a.trigger, a.statusCode, a.outcome])).toEqual([
      ['initial', 503, 'FAILED'],
      ['retry', 503, 'FAILED'],
      ['retry', 200, 'SENT'],
    ]);
    expect(receiver.requests).toHaveLength(3);
    // Sent at retry 2: two executions, retry 1 (after attempt 1) and retry 2 (after attempt 2).
    expect(executionsOf(job.notificationId)).toEqual([
      retryExecutionName({ notificationId: job.notificationId, retry: 1, after: 1 }),
      retryExecutionName({ notificationId: job.notificationId, retry: 2, after: 2 }),
    ]);
  });

  /** The wait the first attempt's failure asked for before retry 1. */
  const scheduledWait = (notificationId: string) =>
    harness.observer.events.find(
      (e) => e.kind === 'retryScheduled' && e.ref.notificationId === notificationId,
    )?.detail as number;

  it('honours Retry-After (seconds) up to the step ceiling, without jitter', async () => {
    const { job } = await deliver('/retry-after', retryAfter(1));

    const start = harness.machine.starts.find((s) => s.notificationId === job.notificationId)!;
    expect(scheduledWait(job.notificationId)).toBeCloseTo(1 * FAST_SCALE, 10);
    const notification = await harness.notifications.get(job.notificationId);
    expect(notification).toMatchObject({ status: 'WAITING', nextAttemptAt: start.nextAttemptAt });
    receiver.setBehaviour(ok());
    await harness.machine.settle();
    expect((await harness.notifications.get(job.notificationId))!.status).toBe('SENT');
  });

  it('caps a Retry-After beyond the step ceiling at the ceiling', async () => {
    const { job } = await deliver('/retry-after-long', retryAfter(3600));

    expect(scheduledWait(job.notificationId)).toBeCloseTo(FAST_SCHEDULE[0] * FAST_SCALE, 10);
    receiver.setBehaviour(ok());
    await harness.machine.settle();
  });

  it('410 Gone fails at once with no retry', async () => {
    const { job } = await deliver('/gone', gone());

    const notification = await harness.notifications.get(job.notificationId);
    expect(notification).toMatchObject({
      status: 'FAILED',
      failureReason: 'INVALID_HTTP_RESPONSE',
    });
    expect(notification!.attempts).toEqual([expect.objectContaining({ statusCode: 410 })]);
    expect(harness.machine.starts.some((s) => s.notificationId === job.notificationId)).toBe(false);
  });

  it('records a timeout as TIMEOUT and schedules a retry', async () => {
    // Only the first request hangs; the retry is answered at once.
    const { job } = await deliver('/hang', (_req, n) =>
      n === 1 ? { kind: 'hang' } : { status: 200 },
    );

    const notification = await harness.notifications.get(job.notificationId);
    expect(notification).toMatchObject({ status: 'WAITING', failureReason: 'TIMEOUT' });
    expect(notification!.attempts[0]).toMatchObject({
      statusCode: null,
      error: 'TIMEOUT',
      outcome: 'FAILED',
    });
    receiver.setBehaviour(ok());
    await harness.machine.settle();
    expect((await harness.notifications.get(job.notificationId))!.status).toBe('SENT');
  });

  it('records a connection reset as CONNECTION_ERROR', async () => {
    const { job } = await deliver('/reset', reset());

    const notification = await harness.notifications.get(job.notificationId);
    expect(notification).toMatchObject({ status: 'WAITING', failureReason: 'CONNECTION_ERROR' });
    receiver.setBehaviour(ok());
    await harness.machine.settle();
  });

  it('does not follow a redirect: 3xx is a failed attempt and the target gets nothing', async () => {
    const target = await startReceiver(ok());
    try {
      const { job } = await deliver('/redirect', redirectTo(`${target.url}/elsewhere`, 302));

      const notification = await harness.notifications.get(job.notificationId);
      expect(notification).toMatchObject({
        status: 'WAITING',
        failureReason: 'INVALID_HTTP_RESPONSE',
      });
      expect(notification!.attempts[0]).toMatchObject({
        statusCode: 302,
        outcome: 'FAILED',
        error: 'INVALID_HTTP_RESPONSE',
      });
      expect(target.requests).toHaveLength(0);
      receiver.setBehaviour(ok());
      await harness.machine.settle();
    } finally {
      await target.close();
    }
  });

  it('a replayed retry step (task retried after its result was lost) sends nothing again', async () => {
    const { job } = await deliver('/replay', always(500));
    await harness.machine.settle();
    const before = receiver.requests.length;

    const startsBefore = harness.machine.starts.length;

    const output = await harness.attempt({
      action: 'retry',
      notificationId: job.notificationId,
      retry: 3,
    });

    expect(output.done).toBe(true);
    expect(receiver.requests).toHaveLength(before);
    expect((await harness.notifications.get(job.notificationId))!.attempts).toHaveLength(6);
    expect(harness.machine.starts).toHaveLength(startsBefore);
  });

  it('a manual resend after FAILED makes one attempt with trigger manual and no automatic retries', async () => {
    const { job } = await deliver('/manual', always(500));
    await harness.machine.settle();
    const executionsBefore = harness.machine.executions.size;
    receiver.setBehaviour(ok());

    await harness.service.handleJob({ kind: 'resend', notificationId: job.notificationId });

    const notification = await harness.notifications.get(job.notificationId);
    expect(notification!.status).toBe('SENT');
    expect(notification!.attempts.at(-1)).toMatchObject({
      number: 7,
      trigger: 'manual',
      outcome: 'SENT',
    });
    expect(harness.machine.executions.size).toBe(executionsBefore);
  });

  it('a notification resent again and again keeps every attempt, and the response excerpts of its first six and latest twenty', async () => {
    const page = (i: number) => `<html>error page ${i}${'.'.repeat(900)}</html>`;
    const { job } = await deliver('/resent', (_req, i) => ({ status: 503, body: page(i) }));
    await harness.machine.settle();
    for (let i = 0; i < 30; i++)
      await harness.service.handleJob({ kind: 'resend', notificationId: job.notificationId });

    const stored = await harness.notifications.get(job.notificationId);
    expect(stored!.status).toBe('FAILED');
    expect(stored!.attempts.map((a) => a.number)).toEqual(
      Array.from({ length: 36 }, (_, i) => i + 1),
    );
    const kept = stored!.attempts.filter((a) => a.responseBody !== null).map((a) => a.number);
    expect(kept).toEqual([...[1, 2, 3, 4, 5, 6], ...Array.from({ length: 20 }, (_, i) => 17 + i)]);
    // The excerpts kept are each attempt's own, the others are gone from the record.
    const sent = receiver.requests.length;
    expect(stored!.attempts.at(-1)!.responseBody).toBe(page(sent));
    expect(stored!.attempts[10]).toMatchObject({ number: 11, trigger: 'manual', statusCode: 503 });
    expect(stored!.attempts[10]!.responseBody).toBeNull();
  });
});

describe('a repeated retry invocation (a task retry of the attempt Lambda)', () => {
  const standIns = useStandIns();
  const starts: RetryStart[] = [];
  let harness: DeliveryHarness;
  let receiver: Receiver;

  beforeAll(async () => {
    // Executions are not run: the test invokes the attempt handler as the machine would.
    harness = createDeliveryHarness(standIns(), {
      scheduler: { start: async (input) => void starts.push(input) },
    });
    receiver = await startReceiver(always(503));
  });
  afterAll(async () => {
    await harness?.close();
    await receiver?.close();
  });

  it('records nothing, sends nothing, and starts the next retry under the same name with the same input', async () => {
    const def = definition({ url: `${receiver.url}/repeat` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-repeat' }));
    await harness.service.handleJob(job);
    const input = { action: 'retry', notificationId: job.notificationId, retry: 1 } as const;

    await harness.attempt(input);
    const recorded = (await harness.notifications.get(job.notificationId))!;
    await harness.attempt(input);

    const after = (await harness.notifications.get(job.notificationId))!;
    expect(after.attempts).toEqual(recorded.attempts);
    expect(after.attempts.map((a) => a.trigger)).toEqual(['initial', 'retry']);
    expect(receiver.requests).toHaveLength(2);
    const retry2 = {
      notificationId: job.notificationId,
      retry: 2,
      nextAttemptAt: recorded.nextAttemptAt,
      after: 2,
    };
    // Retry 1 started after the first attempt; retry 2 twice, identically: one execution.
    expect(starts.slice(1)).toEqual([retry2, retry2]);
    expect(new Set(starts.slice(1).map((s) => retryExecutionName(s))).size).toBe(1);
  });

  it('a failed manual resend of a waiting notification asks for its next retry again, identically', async () => {
    const def = definition({ url: `${receiver.url}/resend-waiting` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-resend-waiting' }));
    await harness.service.handleJob(job);
    const first = starts.at(-1);

    await harness.service.handleJob({ kind: 'resend', notificationId: job.notificationId });

    const n = (await harness.notifications.get(job.notificationId))!;
    expect(n.attempts.map((a) => a.trigger)).toEqual(['initial', 'manual']);
    expect(first).toEqual({
      notificationId: job.notificationId,
      retry: 1,
      nextAttemptAt: n.nextAttemptAt,
      after: 1,
    });
    // The same retry, scheduled by the same attempt: the same execution (started again only
    // if starting it had failed for good).
    expect(starts.at(-1)).toEqual(first);
  });

  it('a repeat of the last retry marks FAILED once and starts nothing', async () => {
    const def = definition({ url: `${receiver.url}/repeat-last` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-repeat-last' }));
    await harness.service.handleJob(job);
    for (let retry = 1; retry <= 5; retry++)
      await harness.attempt({ action: 'retry', notificationId: job.notificationId, retry });
    const failed = (await harness.notifications.get(job.notificationId))!;
    const startsBefore = starts.length;

    await harness.attempt({ action: 'retry', notificationId: job.notificationId, retry: 5 });

    expect(failed).toMatchObject({ status: 'FAILED', nextAttemptAt: null });
    expect(failed.attempts).toHaveLength(6);
    expect(await harness.notifications.get(job.notificationId)).toEqual(failed);
    expect(starts).toHaveLength(startsBefore);
    // Retries 1..5, each once; nothing after the fifth.
    expect(
      starts.filter((s) => s.notificationId === job.notificationId).map((s) => s.retry),
    ).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('the egress guard in delivery', () => {
  const standIns = useStandIns();
  let harness: DeliveryHarness;
  let receiver: Receiver;

  beforeAll(async () => {
    harness = createDeliveryHarness(standIns(), {
      sender: { policy: { allowHttp: true, allowCidrs: [] } },
    });
    receiver = await startReceiver(ok());
  });
  afterAll(async () => {
    await harness?.close();
    await receiver?.close();
  });

  it.each([
    ['the loopback address itself', (port: number) => `http://127.0.0.1:${port}/x`],
    ['a decimal spelling of it', (port: number) => `http://2130706433:${port}/x`],
    ['localhost with a trailing dot', (port: number) => `http://localhost.:${port}/x`],
    ['an IPv4-mapped IPv6 spelling', (port: number) => `http://[::ffff:127.0.0.1]:${port}/x`],
  ])('refuses %s with BLOCKED_URL, no retry, and the receiver sees nothing', async (_name, url) => {
    const def = definition({ url: url(receiver.port) });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-blocked' }));

    await harness.service.handleJob(job);

    const notification = await harness.notifications.get(job.notificationId);
    expect(notification).toMatchObject({ status: 'FAILED', failureReason: 'BLOCKED_URL' });
    expect(notification!.attempts[0]).toMatchObject({ error: 'BLOCKED_URL', statusCode: null });
    expect(harness.machine.starts).toHaveLength(0);
    expect(receiver.requests).toHaveLength(0);
  });
});

describe('starting the retry machine twice (the product scheduler, the local Step Functions endpoint)', () => {
  const standIns = useStandIns();
  const STATE_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:retry-twice';
  const ATTEMPT_FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:attempt';
  const MACHINES = {
    retry: STATE_MACHINE,
    health: 'arn:aws:states:us-east-1:000000000000:stateMachine:health-unused',
  };
  let harness: DeliveryHarness;
  let receiver: Receiver;
  let endpoint: SfnEndpoint;
  let sfn: SFNClient;
  const taskInputs: AttemptLambdaInput[] = [];
  /** What the engine asked the product scheduler to start. */
  const started: RetryStart[] = [];

  beforeAll(async () => {
    receiver = await startReceiver(failTimes(1));
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
          taskInputs.push(payload as AttemptLambdaInput);
          return harness.attempt(payload as AttemptLambdaInput);
        },
      },
      retryIntervalScale: FAST_SCALE,
      host: '127.0.0.1',
    });
    sfn = new SFNClient({
      region: 'us-east-1',
      endpoint: endpoint.url,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const product = new SfnRetryScheduler(sfn, MACHINES);
    harness = createDeliveryHarness(standIns(), {
      scheduler: {
        start: (input) => {
          started.push(input);
          return product.start(input);
        },
      },
    });
  });
  afterAll(async () => {
    await endpoint?.whenIdle();
    await endpoint?.stop();
    sfn?.destroy();
    await harness?.close();
    await receiver?.close();
  });

  it('runs one execution: a second start for the notification starts nothing', async () => {
    const def = definition({ url: `${receiver.url}/double-start` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-twice' }));
    const scheduler = new SfnRetryScheduler(sfn, MACHINES);

    // The first attempt fails: the engine starts the machine through the scheduler.
    await harness.service.handleJob(job);
    const retry1 = { notificationId: job.notificationId, retry: 1, after: 1 };
    const first = started.find((s) => s.notificationId === job.notificationId);
    expect(first).toMatchObject(retry1);
    // A second start, as a duplicated deliver job or a repeated Lambda would make it: the
    // running execution (same name and input), or ExecutionAlreadyExists once it ended.
    await scheduler.start(first!);
    await endpoint.whenIdle();

    const execution = await sfn.send(
      new DescribeExecutionCommand({
        executionArn: `${STATE_MACHINE.replace(':stateMachine:', ':execution:')}:${retryExecutionName(retry1)}`,
      }),
    );
    expect(execution.status).toBe('SUCCEEDED');
    // One execution ran retry 1 once; a second one would have invoked the attempt task again.
    expect(taskInputs.filter((t) => t.notificationId === job.notificationId)).toHaveLength(1);
    const notification = await harness.notifications.get(job.notificationId);
    expect(notification!.attempts).toHaveLength(2);
    expect(notification!.status).toBe('SENT');
    expect(receiver.requests).toHaveLength(2);
  });
});
