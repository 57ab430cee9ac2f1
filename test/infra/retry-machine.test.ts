import aslValidator from 'asl-validator';
import { StateMachine } from 'aws-local-stepfunctions';
import type { AttemptLambdaInput, AttemptTaskOutput } from '../../lambdas/core/retry-contract';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, RETRY_COUNT } from '../../lambdas/core/retry-schedule';
import {
  LOCAL_ATTEMPT_FUNCTION_ARN,
  RETRY_STATE_NAMES,
  synthesizeRetryDefinition,
} from '../../lib/retry-definition';

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
const definition = synthesizeRetryDefinition({ schedule: SCHEDULE }) as unknown as Definition;
const states = definition.States;
const taskStates = Object.entries(states)
  .filter(([, s]) => s.Type === 'Task')
  .map(([name]) => name);
const waitStates = Object.entries(states)
  .filter(([, s]) => s.Type === 'Wait')
  .map(([name]) => name);

describe('retry state machine definition', () => {
  it('is valid Amazon States Language', () => {
    const result = aslValidator(definition);
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('has the documented shape: Wait -> Attempt -> Choice steps, the fifth Attempt straight to MarkFailed', () => {
    expect(definition.StartAt).toBe(RETRY_STATE_NAMES.route);
    expect(states[RETRY_STATE_NAMES.route]).toMatchObject({
      Type: 'Choice',
      Default: RETRY_STATE_NAMES.wait(1),
    });
    for (let k = 1; k <= RETRY_COUNT; k++) {
      expect(states[RETRY_STATE_NAMES.wait(k)]).toMatchObject({
        Type: 'Wait',
        TimestampPath: '$.nextAttemptAt',
        Next: RETRY_STATE_NAMES.attempt(k),
      });
      const attempt = states[RETRY_STATE_NAMES.attempt(k)]!;
      expect(attempt).toMatchObject({
        Type: 'Task',
        Resource: LOCAL_ATTEMPT_FUNCTION_ARN,
        Parameters: { action: 'attempt', 'notificationId.$': '$.notificationId', retry: k },
        Next: k < RETRY_COUNT ? RETRY_STATE_NAMES.check(k) : RETRY_STATE_NAMES.markFailed,
      });
      if (k === RETRY_COUNT) continue;
      expect(states[RETRY_STATE_NAMES.check(k)]).toMatchObject({
        Type: 'Choice',
        Choices: [{ Variable: '$.done', BooleanEquals: true, Next: RETRY_STATE_NAMES.settled }],
        Default: RETRY_STATE_NAMES.wait(k + 1),
      });
    }
    expect(states[RETRY_STATE_NAMES.check(RETRY_COUNT)]).toBeUndefined();
    expect(states[RETRY_STATE_NAMES.markFailed]).toMatchObject({
      Type: 'Task',
      Parameters: { action: 'markFailed', 'notificationId.$': '$.notificationId' },
      End: true,
    });
    expect(states[RETRY_STATE_NAMES.settled]).toMatchObject({ Type: 'Succeed' });
    // Every state entered is billed: 3 per retry but the last (2), MarkFailed, Settled.
    // + Route and the health driver's loop (Health step -> Health done? -> Health wait).
    expect(Object.keys(states)).toHaveLength(RETRY_COUNT * 3 + 1 + 4);
  });

  it('routes a resumed series to its retry and a health driver to its loop', () => {
    const route = states[RETRY_STATE_NAMES.route] as unknown as {
      Choices: { Variable?: string; IsPresent?: boolean; Next: string }[];
    };
    expect(route.Choices[0]).toEqual({
      Variable: '$.webhookId',
      IsPresent: true,
      Next: RETRY_STATE_NAMES.healthStep,
    });
    expect(route.Choices.slice(1).map((c) => c.Next)).toEqual(
      [2, 3, 4, 5].map((k) => RETRY_STATE_NAMES.wait(k)),
    );
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
      Choices: [{ Variable: '$.done', BooleanEquals: true, Next: RETRY_STATE_NAMES.settled }],
      Default: RETRY_STATE_NAMES.healthWait,
    });
    expect(states[RETRY_STATE_NAMES.healthWait]).toMatchObject({
      Type: 'Wait',
      TimestampPath: '$.wakeAt',
      Next: RETRY_STATE_NAMES.healthStep,
    });
  });

  it('retries the Lambda tasks on Lambda service errors', () => {
    for (const name of taskStates) {
      const errors = states[name]!.Retry!.flatMap((r) => r.ErrorEquals);
      expect(errors).toEqual(
        expect.arrayContaining([
          'Lambda.ServiceException',
          'Lambda.AWSLambdaException',
          'Lambda.SdkClientException',
          'Lambda.TooManyRequestsException',
        ]),
      );
    }
  });

  it('uses JSONPath only', () => {
    const languages = [definition, ...Object.values(states)].map(
      (s) => (s as { QueryLanguage?: string }).QueryLanguage ?? 'JSONPath',
    );
    expect(new Set(languages)).toEqual(new Set(['JSONPath']));
    expect(JSON.stringify(definition)).not.toMatch(/JSONata|"Arguments"|"Output"|\{%/);
  });

  it('puts the given attempt function ARN in every task and defaults to the standard schedule', () => {
    const arn = 'arn:aws:lambda:eu-central-1:111122223333:function:attempt';
    const other = synthesizeRetryDefinition({ attemptFunctionArn: arn }) as unknown as Definition;
    const resources = Object.values(other.States)
      .filter((s) => s.Type === 'Task')
      .map((s) => s.Resource);
    expect(resources).toEqual(Array(RETRY_COUNT + 2).fill(arn));
    expect(DEFAULT_RETRY_SCHEDULE_SECONDS).toHaveLength(RETRY_COUNT);
  });

  it('refuses a schedule that is not five whole seconds', () => {
    expect(() => synthesizeRetryDefinition({ schedule: [60, 300] })).toThrow(/5 entries/);
    expect(() => synthesizeRetryDefinition({ schedule: [60, 300, 0.5, 1, 2] })).toThrow(
      /whole seconds/,
    );
  });
});

describe('retry state machine, executed by aws-local-stepfunctions', () => {
  const machine = new StateMachine(definition as never);
  const noWaits = Object.fromEntries(waitStates.map((name) => [name, 0]));
  const noRetryPauses = Object.fromEntries(taskStates.map((name) => [name, 0]));
  // A fake clock: the delivery Lambda failed at T0; retry k is due SCHEDULE[0..k-1] seconds later.
  const T0 = Date.parse('2026-11-28T10:00:00.000Z');
  const dueAt = (retry: number) =>
    new Date(T0 + SCHEDULE.slice(0, retry).reduce((a, b) => a + b, 0) * 1000).toISOString();

  /** What the stand-in attempt Lambda answers: done, or when the next retry is due. */
  const answer = (input: AttemptLambdaInput, done: boolean): AttemptTaskOutput => {
    const next = input.action === 'attempt' ? input.retry + 1 : RETRY_COUNT + 1;
    return done
      ? {
          notificationId: input.notificationId,
          done: true,
          waitSeconds: 0,
          nextAttemptAt: dueAt(next - 1),
        }
      : {
          notificationId: input.notificationId,
          done: false,
          waitSeconds: SCHEDULE[next - 1] ?? 0,
          nextAttemptAt: dueAt(next),
        };
  };
  const failing = (input: AttemptLambdaInput) => answer(input, input.action === 'markFailed');

  /** Runs one execution; the stand-in attempt Lambda answers from `behaviour`. */
  async function run(behaviour: (input: AttemptLambdaInput, call: number) => AttemptTaskOutput) {
    const calls: AttemptLambdaInput[] = [];
    const standIn = async (input: unknown) => {
      calls.push(input as AttemptLambdaInput);
      return behaviour(input as AttemptLambdaInput, calls.length) as never;
    };
    const execution = machine.run(
      { notificationId: 'ntf_1', waitSeconds: SCHEDULE[0]!, nextAttemptAt: dueAt(1) },
      {
        overrides: {
          taskResourceLocalHandlers: Object.fromEntries(taskStates.map((name) => [name, standIn])),
          waitTimeOverrides: noWaits,
          retryIntervalOverrides: noRetryPauses,
        },
      },
    );
    const waitInputs: { nextAttemptAt: string }[] = [];
    const collecting = (async () => {
      for await (const event of execution.eventLogs) {
        if (event.type === 'StateEntered' && event.state.type === 'Wait')
          waitInputs.push(event.state.input as { nextAttemptAt: string });
      }
    })();
    const result = await execution.result;
    await collecting;
    // Seconds each Wait state was asked to wait, on the fake clock.
    const instants = [T0, ...waitInputs.map((w) => Date.parse(w.nextAttemptAt))];
    const waitsAskedFor = waitInputs.map((_, i) => (instants[i + 1]! - instants[i]!) / 1000);
    return { result, calls, waitsAskedFor };
  }

  it('stops after the attempt that succeeds (retry 3: three attempts, no MarkFailed)', async () => {
    const { result, calls } = await run((input) =>
      answer(input, input.action === 'attempt' && input.retry === 3),
    );
    expect(calls).toEqual(
      [1, 2, 3].map((retry) => ({ action: 'attempt', notificationId: 'ntf_1', retry })),
    );
    expect(result).toMatchObject({ notificationId: 'ntf_1', done: true });
  });

  it('after a fifth retry that succeeds, MarkFailed runs and leaves the notification alone', async () => {
    const { calls } = await run((input) =>
      answer(input, input.action === 'markFailed' || input.retry === RETRY_COUNT),
    );
    expect(calls).toHaveLength(RETRY_COUNT + 1);
    expect(calls[calls.length - 1]).toEqual({ action: 'markFailed', notificationId: 'ntf_1' });
  });

  it('stops at once when the first retry succeeds', async () => {
    const { calls } = await run((input) => answer(input, true));
    expect(calls).toHaveLength(1);
  });

  it('ends in MarkFailed after five failed retries: 1 + 5 attempts in all', async () => {
    const { calls } = await run(failing);
    const attempts = calls.filter((c) => c.action === 'attempt');
    // The first attempt is the delivery Lambda's; the machine makes the five retries.
    expect(attempts.map((c) => (c.action === 'attempt' ? c.retry : 0))).toEqual([1, 2, 3, 4, 5]);
    expect(calls[calls.length - 1]).toEqual({ action: 'markFailed', notificationId: 'ntf_1' });
    expect(calls).toHaveLength(RETRY_COUNT + 1);
  });

  it('waits before each retry as long as the schedule says, growing step by step', async () => {
    const { waitsAskedFor } = await run(failing);
    expect(waitsAskedFor).toEqual(SCHEDULE);
    for (let i = 1; i < waitsAskedFor.length; i++)
      expect(waitsAskedFor[i]!).toBeGreaterThan(waitsAskedFor[i - 1]!);
  });

  it('invokes the attempt again after a Lambda service error instead of failing the execution', async () => {
    const { calls, result } = await run((input, call) => {
      if (call === 1) {
        const error = new Error('service unavailable');
        error.name = 'Lambda.ServiceException';
        throw error;
      }
      return answer(input, true);
    });
    expect(calls).toEqual([
      { action: 'attempt', notificationId: 'ntf_1', retry: 1 },
      { action: 'attempt', notificationId: 'ntf_1', retry: 1 },
    ]);
    expect(result).toMatchObject({ done: true });
  });
});
