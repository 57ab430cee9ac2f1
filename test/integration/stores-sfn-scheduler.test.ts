import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SfnRetryScheduler } from '../../lambdas/adapters/sfn-scheduler';
import { retryExecutionName } from '../../lambdas/core/retry-contract';
import { type SfnEndpoint, startSfnEndpoint } from '../../local/sfn-endpoint';

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:retry';
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
      definition: HOLD,
      stateMachineArn: ARN,
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

  it('starts one execution named after the notification with the retry input', async () => {
    const input = {
      notificationId: 'ntf_a1',
      waitSeconds: 60,
      nextAttemptAt: '2026-11-28T10:01:00.000Z',
    };
    await new SfnRetryScheduler(client, ARN).start(input);

    const arn = `${ARN.replace(':stateMachine:', ':execution:')}:${retryExecutionName('ntf_a1')}`;
    const out = await client.send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(out.status).toBe('RUNNING');
    expect(JSON.parse(out.input ?? '{}')).toEqual(input);
  });

  it('treats a second start for the same notification as done, leaving the first execution in charge', async () => {
    const scheduler = new SfnRetryScheduler(client, ARN);
    const first = {
      notificationId: 'ntf_b2',
      waitSeconds: 60,
      nextAttemptAt: '2026-11-28T10:01:00.000Z',
    };
    await scheduler.start(first);

    // A different input under the same name is ExecutionAlreadyExists on AWS and here.
    const direct = client.send(
      new StartExecutionCommand({
        stateMachineArn: ARN,
        name: retryExecutionName('ntf_b2'),
        input: '{"other":1}',
      }),
    );
    await expect(direct).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    await expect(
      scheduler.start({ ...first, waitSeconds: 75, nextAttemptAt: '2026-11-28T10:01:15.000Z' }),
    ).resolves.toBeUndefined();

    const arn = `${ARN.replace(':stateMachine:', ':execution:')}:${retryExecutionName('ntf_b2')}`;
    const out = await client.send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(JSON.parse(out.input ?? '{}')).toEqual(first);
  });

  it('propagates other errors, such as an unknown state machine', async () => {
    const scheduler = new SfnRetryScheduler(client, `${ARN}-missing`);
    await expect(
      scheduler.start({
        notificationId: 'ntf_c3',
        waitSeconds: 1,
        nextAttemptAt: '2026-11-28T10:00:01.000Z',
      }),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
  });

  it('propagates throttling so the queue message is retried later', async () => {
    // The local endpoint does not throttle: the client is faked for this path only.
    const throttling = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const throttled = {
      send: async () => {
        throw throttling;
      },
    } as unknown as SFNClient;
    await expect(
      new SfnRetryScheduler(throttled, ARN).start({
        notificationId: 'ntf_d4',
        waitSeconds: 1,
        nextAttemptAt: '2026-11-28T10:00:01.000Z',
      }),
    ).rejects.toBe(throttling);
  });
});
