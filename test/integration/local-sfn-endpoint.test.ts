/**
 * The local Step Functions endpoint, driven through the real SFN client (AWS JSON 1.0 over
 * HTTP on 127.0.0.1) with the attempt Lambda bound to an in-process function.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DescribeExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { synthesizeHealthDefinition, synthesizeRetryDefinition } from '../../lib/retry-definition';
import { prepareDefinition } from '../../local/sfn-definition';
import {
  executionsJournalPath,
  type LocalFunction,
  type SfnEndpoint,
  startSfnEndpoint,
} from '../../local/sfn-endpoint';
import { createExecutionRegistry } from '../../local/sfn-executions';

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:retry-test';
const ATTEMPT_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:attempt';

/**
 * A machine of many steps for the endpoint's own behaviour (the shape of the retry machine
 * before the chain): 5 x (Wait -> Attempt -> Choice) -> MarkFailed, waiting on TimestampPath
 * $.nextAttemptAt (or SecondsPath $.waitSeconds).
 */
function contractDefinition(
  wait: 'TimestampPath' | 'SecondsPath' = 'TimestampPath',
): Record<string, unknown> {
  const waitField =
    wait === 'TimestampPath'
      ? { TimestampPath: '$.nextAttemptAt' }
      : { SecondsPath: '$.waitSeconds' };
  const states: Record<string, unknown> = {};
  for (let k = 1; k <= 5; k++) {
    states[`Wait ${k}`] = { Type: 'Wait', ...waitField, Next: `Attempt ${k}` };
    states[`Attempt ${k}`] = {
      Type: 'Task',
      Resource: ATTEMPT_ARN,
      Parameters: { action: 'attempt', 'notificationId.$': '$.notificationId', retry: k },
      Next: `Done ${k}?`,
    };
    states[`Done ${k}?`] = {
      Type: 'Choice',
      Choices: [{ Variable: '$.done', BooleanEquals: true, Next: 'Done' }],
      Default: k < 5 ? `Wait ${k + 1}` : 'MarkFailed',
    };
  }
  states.MarkFailed = {
    Type: 'Task',
    Resource: ATTEMPT_ARN,
    Parameters: { action: 'markFailed', 'notificationId.$': '$.notificationId' },
    Next: 'Done',
  };
  states.Done = { Type: 'Succeed' };
  return { StartAt: 'Wait 1', States: states };
}

/** Execution input as the delivery Lambda builds it (RetryExecutionInput), and waitSeconds. */
function retryInput(notificationId: string, waitSeconds: number, retry = 1): string {
  return JSON.stringify({
    notificationId,
    retry,
    waitSeconds,
    nextAttemptAt: new Date(Date.now() + waitSeconds * 1000).toISOString(),
  });
}

interface Call {
  payload: { action: string; notificationId: string; retry?: number };
  at: number;
}

function recorder(doneAtRetry: number | null, waitSeconds = 0.01) {
  const calls: Call[] = [];
  const fn: LocalFunction = async (payload) => {
    const p = payload as Call['payload'];
    calls.push({ payload: p, at: Date.now() });
    const nextAttemptAt = new Date(Date.now() + waitSeconds * 1000).toISOString();
    if (p.action === 'markFailed')
      return { notificationId: p.notificationId, done: true, waitSeconds: 0, nextAttemptAt };
    return {
      notificationId: p.notificationId,
      done: p.retry === doneAtRetry,
      waitSeconds,
      nextAttemptAt,
    };
  };
  return { calls, fn };
}

/** Rewrites the executions journal so the chosen Waits are due now, as if they elapsed while down. */
function expireWaits(journal: string, chosen: (wait: { name?: string }) => boolean): void {
  const lines = fs.readFileSync(journal, 'utf8').split('\n');
  fs.writeFileSync(
    journal,
    lines
      .map((line) => {
        if (line.trim() === '') return line;
        const r = JSON.parse(line);
        return r.t === 'wait' && chosen(r) ? JSON.stringify({ ...r, until: Date.now() }) : line;
      })
      .join('\n'),
  );
}

async function waitFor<T>(probe: () => Promise<T | undefined>, seconds = 20): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('local Step Functions endpoint', () => {
  const endpoints: SfnEndpoint[] = [];
  const dirs: string[] = [];
  const clients: SFNClient[] = [];

  async function start(
    fn: LocalFunction,
    dataDir?: string,
    wait?: 'TimestampPath' | 'SecondsPath',
    definition: Record<string, unknown> = contractDefinition(wait),
    retryIntervalScale?: number,
  ) {
    const endpoint = await startSfnEndpoint({
      machines: [{ definition, stateMachineArn: ARN }],
      ...(retryIntervalScale !== undefined ? { retryIntervalScale } : {}),
      functions: { [ATTEMPT_ARN]: fn },
      ...(dataDir ? { dataDir } : {}),
    });
    endpoints.push(endpoint);
    const client = new SFNClient({
      region: 'us-east-1',
      endpoint: endpoint.url,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    clients.push(client);
    return { endpoint, client };
  }

  function tempDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfn-endpoint-'));
    dirs.push(dir);
    return dir;
  }

  afterAll(async () => {
    for (const c of clients) c.destroy();
    await Promise.allSettled(endpoints.map((e) => e.stop()));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('runs the machine until the attempt reports done, honouring fractional waits', async () => {
    const { calls, fn } = recorder(3, 0.02);
    const { endpoint, client } = await start(fn, undefined, 'SecondsPath');

    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: ARN,
        name: 'retry-ntf_a',
        input: retryInput('ntf_a', 0.05),
      }),
    );
    await endpoint.whenIdle();
    const described = await client.send(
      new DescribeExecutionCommand({ executionArn: started.executionArn }),
    );

    expect(started.executionArn).toBe(
      'arn:aws:states:us-east-1:000000000000:execution:retry-test:retry-ntf_a',
    );
    expect(described.status).toBe('SUCCEEDED');
    expect(calls.map((c) => c.payload)).toEqual([
      { action: 'attempt', notificationId: 'ntf_a', retry: 1 },
      { action: 'attempt', notificationId: 'ntf_a', retry: 2 },
      { action: 'attempt', notificationId: 'ntf_a', retry: 3 },
    ]);
    expect(JSON.parse(described.output ?? 'null')).toMatchObject({
      notificationId: 'ntf_a',
      done: true,
      waitSeconds: 0.02,
    });
  });

  it('runs the machines CDK synthesizes side by side: a chain of five retry executions, a health driver', async () => {
    const healthArn = ARN.replace(':stateMachine:retry-test', ':stateMachine:health-test');
    const calls: Record<string, unknown>[] = [];
    let client!: SFNClient;
    // The attempt Lambda's part: retry k < 5 starts retry k+1; a driver ends after two steps.
    const fn: LocalFunction = async (payload) => {
      const p = payload as { action: string; retry: number; steps: number };
      calls.push(p);
      const now = new Date().toISOString();
      if (p.action === 'health')
        return { ...p, steps: p.steps + 1, done: p.steps >= 1, wakeAt: now };
      if (p.retry < 5)
        await client.send(
          new StartExecutionCommand({
            stateMachineArn: ARN,
            name: `chain-${p.retry + 1}`,
            input: retryInput('ntf_cdk', 0, p.retry + 1),
          }),
        );
      return { done: p.retry === 5 };
    };
    const endpoint = await startSfnEndpoint({
      machines: [
        {
          definition: synthesizeRetryDefinition({ attemptFunctionArn: ATTEMPT_ARN }),
          stateMachineArn: ARN,
        },
        {
          definition: synthesizeHealthDefinition({ attemptFunctionArn: ATTEMPT_ARN }),
          stateMachineArn: healthArn,
        },
      ],
      functions: { [ATTEMPT_ARN]: fn },
    });
    endpoints.push(endpoint);
    client = new SFNClient({
      region: 'us-east-1',
      endpoint: endpoint.url,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    clients.push(client);

    await client.send(
      new StartExecutionCommand({
        stateMachineArn: ARN,
        name: 'chain-1',
        input: retryInput('ntf_cdk', 0.001),
      }),
    );
    const driver = await client.send(
      new StartExecutionCommand({
        stateMachineArn: healthArn,
        name: 'driver',
        input: JSON.stringify({ webhookId: 'wh_1', seq: 0, steps: 0 }),
      }),
    );
    await endpoint.whenIdle();

    expect(calls.filter((c) => c.action === 'retry')).toEqual(
      [1, 2, 3, 4, 5].map((retry) => ({ action: 'retry', notificationId: 'ntf_cdk', retry })),
    );
    expect(calls.filter((c) => c.action === 'health').map((c) => c.steps)).toEqual([0, 1]);
    for (const executionArn of [
      ...[1, 2, 3, 4, 5].map((k) => `${ARN.replace(':stateMachine:', ':execution:')}:chain-${k}`),
      driver.executionArn,
    ]) {
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));
      expect(described.status).toBe('SUCCEEDED');
    }
    // Each machine knows its own executions only.
    await expect(
      client.send(
        new DescribeExecutionCommand({
          executionArn: `${healthArn.replace(':stateMachine:', ':execution:')}:chain-1`,
        }),
      ),
    ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
  });

  it("retries an attempt that throws, as the definition's Retry field says (pauses scaled)", async () => {
    const { calls, fn } = recorder(1, 0.001);
    let thrown = 0;
    const flaky: LocalFunction = async (payload) => {
      if (thrown++ === 0) throw new Error('store unavailable');
      return fn(payload);
    };
    const definition = synthesizeRetryDefinition({ attemptFunctionArn: ATTEMPT_ARN });
    const { endpoint, client } = await start(flaky, undefined, undefined, definition, 0.001);

    const { executionArn } = await client.send(
      new StartExecutionCommand({
        stateMachineArn: ARN,
        name: 'flaky',
        input: retryInput('ntf_flaky', 0),
      }),
    );
    await endpoint.whenIdle();
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));

    expect(thrown).toBe(2);
    expect(calls.map((c) => c.payload)).toEqual([
      { action: 'retry', notificationId: 'ntf_flaky', retry: 1 },
    ]);
    expect(described.status).toBe('SUCCEEDED');
  });

  it('marks the notification failed after the fifth retry', async () => {
    const { calls, fn } = recorder(null, 0.001);
    const { endpoint, client } = await start(fn);

    await client.send(
      new StartExecutionCommand({
        stateMachineArn: ARN,
        name: 'n-fail',
        input: retryInput('ntf_f', 0),
      }),
    );
    await endpoint.whenIdle();

    expect(calls.map((c) => c.payload.retry ?? c.payload.action)).toEqual([
      1,
      2,
      3,
      4,
      5,
      'markFailed',
    ]);
  });

  it('is idempotent by name and input, and refuses the same name with other input', async () => {
    // The task waits for the test: the execution stays RUNNING for as long as the test needs.
    const { calls, fn: record } = recorder(1, 0);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const fn: LocalFunction = async (payload) => {
      await gate;
      return record(payload);
    };
    const { endpoint, client } = await start(fn);
    const input = retryInput('ntf_i', 0);

    const first = await client.send(
      new StartExecutionCommand({ stateMachineArn: ARN, name: 'same', input }),
    );
    const second = await client.send(
      new StartExecutionCommand({ stateMachineArn: ARN, name: 'same', input }),
    );
    const conflict = client.send(
      new StartExecutionCommand({
        stateMachineArn: ARN,
        name: 'same',
        input: retryInput('other', 0),
      }),
    );

    await expect(conflict).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    expect(second.executionArn).toBe(first.executionArn);
    release();
    await endpoint.whenIdle();
    expect(calls).toHaveLength(1);
    // Closed now: even the same input is an existing execution (as on AWS for Standard workflows).
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: ARN, name: 'same', input })),
    ).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
    });
  });

  it('answers bad requests with the AWS error codes', async () => {
    const { fn } = recorder(1);
    const { client } = await start(fn);

    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: `${ARN}-other`, input: '{}' })),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: ARN, input: '{not json' })),
    ).rejects.toMatchObject({
      name: 'InvalidExecutionInput',
    });
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: ARN, name: 'a b', input: '{}' })),
    ).rejects.toMatchObject({
      name: 'InvalidName',
    });
    await expect(
      client.send(
        new DescribeExecutionCommand({
          executionArn: `${ARN.replace('stateMachine', 'execution')}:nope`,
        }),
      ),
    ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
    await expect(
      client.send(new DescribeExecutionCommand({ executionArn: 'execution:retry-test:x' })),
    ).rejects.toMatchObject({ name: 'InvalidArn' });
    // An execution of another machine is not this machine's, even under the same name.
    await client.send(new StartExecutionCommand({ stateMachineArn: ARN, name: 'known' }));
    await expect(
      client.send(
        new DescribeExecutionCommand({
          executionArn: `${ARN.replace('stateMachine', 'execution').replace('retry-test', 'retry-tesX')}:known`,
        }),
      ),
    ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
  });

  it('stops a running execution', async () => {
    const { calls, fn } = recorder(1);
    const { endpoint, client } = await start(fn);
    const { executionArn } = await client.send(
      new StartExecutionCommand({
        stateMachineArn: ARN,
        name: 'to-stop',
        input: retryInput('ntf_s', 3600),
      }),
    );

    await client.send(
      new StopExecutionCommand({ executionArn, error: 'Test', cause: 'stopped by the test' }),
    );
    await endpoint.whenIdle();
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));

    expect(described).toMatchObject({
      status: 'ABORTED',
      error: 'Test',
      cause: 'stopped by the test',
    });
    expect(described.stopDate).toBeInstanceOf(Date);
    expect(calls).toHaveLength(0);
  });

  it('checks StartExecution as AWS does: input defaults to {}, names up to 80 characters, input up to 256 KiB', async () => {
    const { fn } = recorder(1);
    const { endpoint, client } = await start(fn);
    const bigInput = (bytes: number) => JSON.stringify({ p: 'x'.repeat(bytes - 8) });

    const noInput = await client.send(
      new StartExecutionCommand({ stateMachineArn: ARN, name: 'n'.repeat(80) }),
    );
    await client.send(
      new StartExecutionCommand({ stateMachineArn: ARN, name: 'big', input: bigInput(256 * 1024) }),
    );
    const longName = client.send(
      new StartExecutionCommand({ stateMachineArn: ARN, name: 'n'.repeat(81), input: '{}' }),
    );
    const tooBig = client.send(
      new StartExecutionCommand({ stateMachineArn: ARN, input: bigInput(256 * 1024 + 1) }),
    );

    expect(Buffer.byteLength(bigInput(256 * 1024))).toBe(256 * 1024);
    await expect(longName).rejects.toMatchObject({ name: 'InvalidName' });
    await expect(tooBig).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
    await endpoint.whenIdle();
    const described = await client.send(
      new DescribeExecutionCommand({ executionArn: noInput.executionArn }),
    );
    // The machine's first Wait reads $.nextAttemptAt, which {} lacks.
    expect(described).toMatchObject({ input: '{}', status: 'FAILED', error: 'States.Runtime' });
    expect(described.cause).toContain("Wait state 'Wait 1'");
  });

  it("ends an execution past the machine's TimeoutSeconds as TIMED_OUT with States.Timeout, and reports it", async () => {
    let release: () => void = () => {};
    const hanging = new Promise<void>((resolve) => {
      release = resolve;
    });
    const reports: string[] = [];
    const registry = createExecutionRegistry({
      prepared: prepareDefinition(
        {
          StartAt: 'Slow',
          TimeoutSeconds: 1,
          States: { Slow: { Type: 'Task', Resource: ATTEMPT_ARN, End: true } },
        },
        { [ATTEMPT_ARN]: () => hanging },
      ),
      stateMachineArn: ARN,
      onError: (message) => reports.push(message),
    });
    try {
      const started = registry.operations.StartExecution!({
        stateMachineArn: ARN,
        name: 'slow',
      }) as { executionArn: string };
      await registry.whenIdle();
      const described = registry.operations.DescribeExecution!({
        executionArn: started.executionArn,
      }) as Record<string, unknown>;

      expect(described).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
      expect(described.output).toBeUndefined();
      expect(registry.runningCount()).toBe(0);
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatch(/^execution slow TIMED_OUT: States\.Timeout/);
    } finally {
      release();
      await registry.stop();
    }
  });

  it('refuses new executions with 503 ServiceUnavailable once stopping', async () => {
    const { fn } = recorder(1);
    const registry = createExecutionRegistry({
      prepared: prepareDefinition(contractDefinition(), { [ATTEMPT_ARN]: fn }),
      stateMachineArn: ARN,
      onError: () => {},
    });

    await registry.stop();

    expect(registry.stopping()).toBe(true);
    expect(() =>
      registry.operations.StartExecution?.({ stateMachineArn: ARN, name: 'late', input: '{}' }),
    ).toThrow(expect.objectContaining({ code: 'ServiceUnavailable', status: 503 }));
  });

  it('answers malformed calls in the AWS JSON shape: wrong method, target, body, size', async () => {
    const { fn } = recorder(1);
    const { endpoint } = await start(fn);
    const call = (init: { method?: string; target?: string; body?: string }) =>
      fetch(endpoint.url, {
        method: init.method ?? 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': init.target ?? 'AWSStepFunctions.DescribeExecution',
        },
        ...(init.body !== undefined ? { body: init.body } : {}),
      });

    const answers = [
      await call({ method: 'GET' }),
      await call({ target: 'AWSStepFunctions:DescribeExecution', body: '{}' }),
      await call({ body: '[]' }),
      await call({ body: '{nope' }),
      await call({ body: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }) }),
    ];

    const shapes = await Promise.all(
      answers.map(async (res) => [
        res.status,
        res.headers.get('x-amzn-errortype'),
        ((await res.json()) as { __type: string }).__type,
      ]),
    );
    expect(shapes).toEqual([
      [404, 'UnknownOperationException', 'com.amazonaws.sfn#UnknownOperationException'],
      [400, 'UnknownOperationException', 'com.amazonaws.sfn#UnknownOperationException'],
      [400, 'SerializationException', 'com.amazonaws.sfn#SerializationException'],
      [400, 'SerializationException', 'com.amazonaws.sfn#SerializationException'],
      [413, 'ValidationException', 'com.amazonaws.sfn#ValidationException'],
    ]);
  });

  it('waits afresh when a resumed execution comes back to the Wait it resumed at', async () => {
    const dataDir = tempDir();
    const ROUND_SECONDS = 3600;
    const calls: number[] = [];
    const fn: LocalFunction = async (payload) => {
      const p = payload as { round: number };
      calls.push(p.round);
      return { round: p.round + 1, s: ROUND_SECONDS };
    };
    const loop = {
      StartAt: 'Pause',
      States: {
        Pause: { Type: 'Wait', SecondsPath: '$.s', Next: 'Step' },
        Step: {
          Type: 'Task',
          Resource: ATTEMPT_ARN,
          Parameters: { 'round.$': '$.round' },
          Next: 'Again?',
        },
        'Again?': {
          Type: 'Choice',
          Choices: [{ Variable: '$.round', NumericGreaterThanEquals: 3, Next: 'Done' }],
          Default: 'Pause',
        },
        Done: { Type: 'Succeed' },
      },
    };
    const first = await start(fn, dataDir, undefined, loop);
    await first.client.send(
      new StartExecutionCommand({
        stateMachineArn: ARN,
        name: 'looping',
        input: JSON.stringify({ round: 1, s: ROUND_SECONDS }),
      }),
    );
    const journal = executionsJournalPath(dataDir, ARN);
    const waits = () =>
      fs
        .readFileSync(journal, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as { t: string; until?: number })
        .filter((r) => r.t === 'wait');
    await waitFor(async () => (waits().length > 0 ? true : undefined));
    await first.endpoint.stop();
    // The wait elapsed while the endpoint was down.
    expireWaits(journal, () => true);

    const resumedAt = Date.now();
    await start(fn, dataDir, undefined, loop);
    // The journal, compacted on start, holds the resumed wait; then the resumed Pause; then the next one.
    await waitFor(async () => (calls.length > 0 && waits().length >= 3 ? true : undefined));

    expect(calls).toEqual([1]);
    expect(waits().at(-1)?.until).toBeGreaterThanOrEqual(resumedAt + ROUND_SECONDS * 1000);
  });

  it('resumes running executions after a restart on the same data directory', async () => {
    const dataDir = tempDir();
    const before = recorder(2, 0.01);
    const first = await start(before.fn, dataDir);
    const { executionArn } = await first.client.send(
      new StartExecutionCommand({
        stateMachineArn: ARN,
        name: 'survivor',
        // Far longer than the test: it cannot reach its task before the stop on any machine.
        input: retryInput('ntf_r', 3600),
      }),
    );
    await first.client.send(
      new StartExecutionCommand({
        stateMachineArn: ARN,
        name: 'finished',
        input: retryInput('ntf_d', 0),
      }),
    );
    await waitFor(async () =>
      before.calls.some((c) => c.payload.notificationId === 'ntf_d' && c.payload.retry === 2)
        ? true
        : undefined,
    );
    await first.endpoint.stop();
    // The wait elapses while the endpoint is down: its wake-up time in the journal is now past.
    expireWaits(executionsJournalPath(dataDir, ARN), (r) => r.name === 'survivor');

    const after = recorder(2, 0.01);
    const second = await start(after.fn, dataDir);
    await second.endpoint.whenIdle();
    const described = await second.client.send(new DescribeExecutionCommand({ executionArn }));

    expect(before.calls.filter((c) => c.payload.notificationId === 'ntf_r')).toHaveLength(0);
    expect(second.endpoint.resumed).toBe(1);
    expect(second.endpoint.resumedByMachine).toEqual({ [ARN]: 1 });
    expect(after.calls.map((c) => c.payload)).toEqual([
      { action: 'attempt', notificationId: 'ntf_r', retry: 1 },
      { action: 'attempt', notificationId: 'ntf_r', retry: 2 },
    ]);
    expect(described.status).toBe('SUCCEEDED');
    await expect(
      second.client.send(
        new DescribeExecutionCommand({
          executionArn: executionArn!.replace('survivor', 'finished'),
        }),
      ),
    ).resolves.toMatchObject({ status: 'SUCCEEDED' });
  });
});
