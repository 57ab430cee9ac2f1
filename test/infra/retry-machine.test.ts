import aslValidator from 'asl-validator';
import type {
  HealthTaskInput,
  RetryExecutionInput,
  RetryTaskInput,
} from '../../lambdas/core/retry-contract';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, RETRY_COUNT } from '../../lambdas/core/retry-schedule';
import type { HealthDriverInput } from '../../lambdas/ports';
import {
  LOCAL_ATTEMPT_FUNCTION_ARN,
  RETRY_STATE_NAMES,
  synthesizeHealthDefinition,
  synthesizeRetryDefinition,
} from '../../lib/retry-definition';
import { runChain, runExecution } from '../support/machine-runs';

interface State {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  TimestampPath?: string;
  Choices?: Record<string, unknown>[];
  Retry?: { ErrorEquals: string[] }[];
}
interface Definition {
  StartAt: string;
  States: Record<string, State>;
}

const SCHEDULE = [7, 11, 13, 17, 19];
const retrySynthesized = synthesizeRetryDefinition({ schedule: SCHEDULE });
const healthSynthesized = synthesizeHealthDefinition();
const retryDefinition = retrySynthesized as unknown as Definition;
const healthDefinition = healthSynthesized as unknown as Definition;
const machines = { retry: retryDefinition, health: healthDefinition };
const tasksOf = (d: Definition) => Object.values(d.States).filter((s) => s.Type === 'Task');

describe.each(Object.entries(machines))('%s state machine definition', (_name, definition) => {
  it('is valid Amazon States Language', () => {
    const result = aslValidator(definition);
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('retries the Lambda tasks on Lambda service errors and on a failed invocation', () => {
    for (const task of tasksOf(definition)) {
      expect(task.Retry!.flatMap((r) => r.ErrorEquals)).toEqual(
        expect.arrayContaining([
          'Lambda.ServiceException',
          'Lambda.AWSLambdaException',
          'Lambda.SdkClientException',
          'Lambda.TooManyRequestsException',
          'States.TaskFailed',
        ]),
      );
    }
  });

  it('uses JSONPath only', () => {
    const languages = [definition, ...Object.values(definition.States)].map(
      (s) => (s as { QueryLanguage?: string }).QueryLanguage ?? 'JSONPath',
    );
    expect(new Set(languages)).toEqual(new Set(['JSONPath']));
    expect(JSON.stringify(definition)).not.toMatch(/JSONata|"Arguments"|"Output"|\{%/);
  });
});

describe('retry state machine definition', () => {
  const states = retryDefinition.States;

  it('has the documented shape: one retry per execution, Wait -> Attempt, the end', () => {
    expect(retryDefinition.StartAt).toBe(RETRY_STATE_NAMES.wait);
    expect(states[RETRY_STATE_NAMES.wait]).toMatchObject({
      Type: 'Wait',
      TimestampPath: '$.nextAttemptAt',
      Next: RETRY_STATE_NAMES.attempt,
    });
    expect(states[RETRY_STATE_NAMES.attempt]).toMatchObject({
      Type: 'Task',
      Resource: LOCAL_ATTEMPT_FUNCTION_ARN,
      Parameters: {
        action: 'retry',
        'notificationId.$': '$.notificationId',
        'retry.$': '$.retry',
      },
      End: true,
    });
    // Every state entered is billed: two per retry.
    expect(Object.keys(states)).toHaveLength(2);
  });

  it('puts the given attempt function ARN in its task and defaults to the standard schedule', () => {
    const arn = 'arn:aws:lambda:eu-central-1:111122223333:function:attempt';
    for (const other of [
      synthesizeRetryDefinition({ attemptFunctionArn: arn }),
      synthesizeHealthDefinition({ attemptFunctionArn: arn }),
    ])
      expect(tasksOf(other as unknown as Definition).map((s) => s.Resource)).toEqual([arn]);
    expect(DEFAULT_RETRY_SCHEDULE_SECONDS).toHaveLength(RETRY_COUNT);
  });

  it('refuses a schedule that is not five whole seconds', () => {
    expect(() => synthesizeRetryDefinition({ schedule: [60, 300] })).toThrow(/5 entries/);
    expect(() => synthesizeRetryDefinition({ schedule: [60, 300, 0.5, 1, 2] })).toThrow(
      /whole seconds/,
    );
  });
});

describe('health state machine definition', () => {
  it('loops Health step -> Health done? -> Health wait until the step says done', () => {
    const states = healthDefinition.States;
    expect(healthDefinition.StartAt).toBe(RETRY_STATE_NAMES.healthStep);
    expect(states[RETRY_STATE_NAMES.healthStep]).toMatchObject({
      Type: 'Task',
      Parameters: {
        action: 'health',
        'webhookId.$': '$.webhookId',
        'seq.$': '$.seq',
        'steps.$': '$.steps',
      },
      Next: RETRY_STATE_NAMES.healthCheck,
    });
    expect(states[RETRY_STATE_NAMES.healthCheck]).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.done', BooleanEquals: true, Next: RETRY_STATE_NAMES.healthDone }],
      Default: RETRY_STATE_NAMES.healthWait,
    });
    expect(states[RETRY_STATE_NAMES.healthWait]).toMatchObject({
      Type: 'Wait',
      TimestampPath: '$.wakeAt',
      Next: RETRY_STATE_NAMES.healthStep,
    });
    expect(states[RETRY_STATE_NAMES.healthDone]).toMatchObject({ Type: 'Succeed' });
    expect(Object.keys(states)).toHaveLength(4);
  });
});

describe('the retry chain, executed by aws-local-stepfunctions', () => {
  // A fake clock: the delivery Lambda failed at T0; retry k is due SCHEDULE[0..k-1] seconds later.
  const T0 = Date.parse('2026-11-28T10:00:00.000Z');
  const dueAt = (retry: number) =>
    new Date(T0 + SCHEDULE.slice(0, retry).reduce((a, b) => a + b, 0) * 1000).toISOString();
  const first: RetryExecutionInput = { notificationId: 'ntf_1', retry: 1, nextAttemptAt: dueAt(1) };

  /** A stand-in attempt Lambda: retry k fails until `sentAt`, and starts retry k+1 while k < 5. */
  const chain = (sentAt: number) =>
    runChain<RetryExecutionInput, RetryTaskInput>(retrySynthesized, first, (task) =>
      task.retry >= sentAt || task.retry >= RETRY_COUNT
        ? undefined
        : {
            notificationId: task.notificationId,
            retry: task.retry + 1,
            nextAttemptAt: dueAt(task.retry + 1),
          },
    );

  it('makes retry k in execution k with the input it was started with, 2 transitions each', async () => {
    const steps = await chain(3);
    expect(steps.map((s) => s.task)).toEqual(
      [1, 2, 3].map((retry) => ({ action: 'retry', notificationId: 'ntf_1', retry })),
    );
    expect(steps.map((s) => s.run.transitions)).toEqual([2, 2, 2]);
  });

  it('makes five executions, no more, when every retry fails', async () => {
    const steps = await chain(Number.POSITIVE_INFINITY);
    expect(steps.map((s) => s.task.retry)).toEqual([1, 2, 3, 4, 5]);
  });

  it('waits before each retry for the instant its input names, as long as the schedule says', async () => {
    const steps = await chain(Number.POSITIVE_INFINITY);
    const instants = [
      T0,
      ...steps.map((s) => Date.parse((s.run.waitInputs[0] as RetryExecutionInput).nextAttemptAt)),
    ];
    expect(steps.map((_, i) => (instants[i + 1]! - instants[i]!) / 1000)).toEqual(SCHEDULE);
  });

  it('invokes the attempt again after a Lambda service error or a failed invocation', async () => {
    for (const name of ['Lambda.ServiceException', 'Error']) {
      const calls: unknown[] = [];
      const run = await runExecution(retrySynthesized, first, async (task) => {
        calls.push(task);
        if (calls.length === 1) {
          const error = new Error('service unavailable');
          error.name = name;
          throw error;
        }
        return { done: true };
      });
      expect(calls).toEqual([
        { action: 'retry', notificationId: 'ntf_1', retry: 1 },
        { action: 'retry', notificationId: 'ntf_1', retry: 1 },
      ]);
      expect(run.result).toEqual({ done: true });
    }
  });
});

describe('the health machine, executed by aws-local-stepfunctions', () => {
  it('runs steps until one says done, waiting for each wakeAt: 3 transitions per step and 1 for the end', async () => {
    const driver: HealthDriverInput = { webhookId: 'wh_1', seq: 0, steps: 0 };
    const calls: HealthTaskInput[] = [];
    const run = await runExecution(healthSynthesized, driver, async (input) => {
      const step = input as HealthTaskInput;
      calls.push(step);
      return { ...driver, steps: step.steps + 1, done: step.steps + 1 >= 3, wakeAt: 'soon' };
    });
    expect(calls.map((c) => [c.action, c.steps])).toEqual([
      ['health', 0],
      ['health', 1],
      ['health', 2],
    ]);
    expect(run.waitInputs).toHaveLength(2);
    expect(run.transitions).toBe(3 * 3 - 1 + 1);
  });
});
