import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SfnRetryScheduler } from '../../lambdas/adapters/sfn-scheduler';
import { retryExecutionName } from '../../lambdas/core/retry-contract';
import { type SfnEndpoint, startSfnEndpoint } from '../../local/sfn-endpoint';

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:retry';
const HEALTH_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:health';
const ARNS = { retry: ARN, health: HEALTH_ARN };
const executionArn = (machine: string, name: string) =>
  `${machine.replace(':stateMachine:', ':execution:')}:${name}`;
// Holds every execution in a long Wait, so it stays RUNNING for the whole test.
const HOLD = {
  StartAt: 'Hold',
  States: { Hold: { Type: 'Wait', Seconds: 3600, Next: 'Done' }, Done: { Type: 'Succeed' } },
};

describe('SfnRetryScheduler against the local Step Functions endpoint', () => {
  let endpoint: SfnEndpoint;
  let client: SFNClient;

  beforeAll(async () => {
    endpoint = await startSfnEndpoint({
      machines: [
        { definition: HOLD, stateMachineArn: ARN },
        { definition: HOLD, stateMachineArn: HEALTH_ARN },
      ],
      functions: {},
      host: '127.0.0.1',
    });
    client = new SFNClient({
      region: 'us-east-1',
      endpoint: endpoint.url,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });
  afterAll(async () => {
    client?.destroy();
    await endpoint?.stop();
  });

  it('starts one execution per retry, named after the notification, the retry and the attempt that scheduled it', async () => {
    const start = {
      notificationId: 'ntf_a1',
      retry: 2,
      nextAttemptAt: '2026-11-28T10:01:00.000Z',
      after: 3,
    };
    await new SfnRetryScheduler(client, ARNS).start(start);

    expect(retryExecutionName(start)).toBe('retry-ntf_a1-2-3');
    const out = await client.send(
      new DescribeExecutionCommand({ executionArn: executionArn(ARN, 'retry-ntf_a1-2-3') }),
    );
    expect(out.status).toBe('RUNNING');
    // Only what the record holds: a repeat sends the same input.
    expect(JSON.parse(out.input ?? '{}')).toEqual({
      notificationId: 'ntf_a1',
      retry: 2,
      nextAttemptAt: '2026-11-28T10:01:00.000Z',
    });
  });

  it('starts a health driver on the health machine, named after the webhook and its sequence', async () => {
    await new SfnRetryScheduler(client, ARNS).startDriver({ webhookId: 'wh_1', seq: 4, steps: 0 });

    const out = await client.send(
      new DescribeExecutionCommand({ executionArn: executionArn(HEALTH_ARN, 'health-wh_1-4') }),
    );
    expect(JSON.parse(out.input ?? '{}')).toEqual({ webhookId: 'wh_1', seq: 4, steps: 0 });
  });

  it('treats a second start of the same retry as done, leaving the first execution in charge', async () => {
    const scheduler = new SfnRetryScheduler(client, ARNS);
    const first = {
      notificationId: 'ntf_b2',
      retry: 1,
      nextAttemptAt: '2026-11-28T10:01:00.000Z',
      after: 1,
    };
    await scheduler.start(first);
    // The same input under the same name: the same execution (AWS, Standard, while it runs).
    await expect(scheduler.start(first)).resolves.toBeUndefined();

    // A different input under the same name is ExecutionAlreadyExists on AWS and here.
    const direct = client.send(
      new StartExecutionCommand({
        stateMachineArn: ARN,
        name: retryExecutionName(first),
        input: '{"other":1}',
      }),
    );
    await expect(direct).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    await expect(
      scheduler.start({ ...first, nextAttemptAt: '2026-11-28T10:01:15.000Z' }),
    ).resolves.toBeUndefined();

    const out = await client.send(
      new DescribeExecutionCommand({ executionArn: executionArn(ARN, retryExecutionName(first)) }),
    );
    expect(JSON.parse(out.input ?? '{}')).toEqual({
      notificationId: 'ntf_b2',
      retry: 1,
      nextAttemptAt: '2026-11-28T10:01:00.000Z',
    });
  });

  it('propagates other errors, such as an unknown state machine', async () => {
    const scheduler = new SfnRetryScheduler(client, { ...ARNS, retry: `${ARN}-missing` });
    await expect(
      scheduler.start({
        notificationId: 'ntf_c3',
        retry: 1,
        nextAttemptAt: '2026-11-28T10:00:01.000Z',
        after: 1,
      }),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
  });

  it('propagates throttling so the queue message or the attempt task is retried later', async () => {
    // The local endpoint does not throttle: the client is faked for this path only.
    const throttling = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const throttled = {
      send: async () => {
        throw throttling;
      },
    } as unknown as SFNClient;
    await expect(
      new SfnRetryScheduler(throttled, ARNS).start({
        notificationId: 'ntf_d4',
        retry: 1,
        nextAttemptAt: '2026-11-28T10:00:01.000Z',
        after: 1,
      }),
    ).rejects.toBe(throttling);
  });
});
