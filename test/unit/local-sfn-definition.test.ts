/**
 * How local mode prepares a state machine definition for aws-local-stepfunctions: Wait states
 * become checkpointable local tasks, Lambda tasks call in-process functions, Retry pauses scale.
 */
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import {
  type LocalFunction,
  prepareDefinition,
  scaledRetryIntervals,
} from '../../local/sfn-definition';

const ATTEMPT = 'arn:aws:lambda:us-east-1:000000000000:function:attempt';

function machine(states: Record<string, unknown>): Record<string, unknown> {
  return { StartAt: Object.keys(states)[0], States: states };
}

function waitUntil(wait: Record<string, unknown>, data: unknown = {}): number {
  const prepared = prepareDefinition(machine({ W: { Type: 'Wait', ...wait, End: true } }), {});
  const binding = prepared.waits.get('W');
  if (!binding) throw new Error('no wait binding');
  return binding.until(data);
}

describe('local state machine definitions', () => {
  it('scales Retry intervals (default one second) and leaves them alone at scale 1', () => {
    const definition = machine({
      A: {
        Type: 'Task',
        Resource: ATTEMPT,
        Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 4 }, { ErrorEquals: ['X'] }],
        End: true,
      },
      B: { Type: 'Succeed' },
    }) as unknown as StateMachineDefinition;

    expect(scaledRetryIntervals(definition, 0.5)).toEqual({ A: [2000, 500] });
    expect(scaledRetryIntervals(definition, 1)).toBeUndefined();
  });

  it('ends a Wait at the time its Seconds, SecondsPath, Timestamp or TimestampPath names', () => {
    const before = Date.now();
    const bySeconds = waitUntil({ Seconds: 3 });
    const byPath = waitUntil(
      { SecondsPath: "$.delay['after'].s" },
      { delay: { after: { s: 0.5 } } },
    );
    const after = Date.now();

    expect(bySeconds).toBeGreaterThanOrEqual(before + 3000);
    expect(bySeconds).toBeLessThanOrEqual(after + 3000);
    expect(byPath).toBeGreaterThanOrEqual(before + 500);
    expect(byPath).toBeLessThanOrEqual(after + 500);
    expect(waitUntil({ Timestamp: '2026-12-04T10:00:00Z' })).toBe(
      Date.parse('2026-12-04T10:00:00Z'),
    );
    expect(waitUntil({ TimestampPath: '$.at' }, { at: '2026-12-04T11:00:00.250Z' })).toBe(
      Date.parse('2026-12-04T11:00:00.250Z'),
    );
    // Zero seconds is a wait that ends at once, not an error.
    expect(waitUntil({ SecondsPath: '$.s' }, { s: 0 })).toBeGreaterThanOrEqual(before);
  });

  it('fails a Wait whose seconds are negative or whose timestamp is not one, with States.Runtime', () => {
    expect(() => waitUntil({ SecondsPath: '$.s' }, { s: -1 })).toThrow(
      expect.objectContaining({ name: 'States.Runtime' }),
    );
    expect(() => waitUntil({ TimestampPath: '$.at' }, { at: 'soon' })).toThrow(
      expect.objectContaining({ name: 'States.Runtime' }),
    );
  });

  it('refuses paths it cannot read, Map and Parallel states, and a Wait without a time', () => {
    expect(() => waitUntil({ SecondsPath: '$$.Execution.Input.s' })).toThrow(/not supported/);
    expect(() => waitUntil({ SecondsPath: 'x.s' }, { s: 1 })).toThrow(/not supported/);
    expect(() => waitUntil({})).toThrow(/needs Seconds, SecondsPath, Timestamp or TimestampPath/);
    for (const Type of ['Map', 'Parallel'])
      expect(() => prepareDefinition(machine({ S: { Type, End: true } }), {})).toThrow(
        `state 'S': ${Type} states are not supported by the local endpoint`,
      );
  });

  it('makes a Wait resumable only when it has no InputPath', () => {
    const prepared = prepareDefinition(
      machine({
        Plain: { Type: 'Wait', Seconds: 1, Next: 'Narrowed' },
        Narrowed: { Type: 'Wait', Seconds: 1, InputPath: '$.x', End: true },
      }),
      {},
    );

    expect(prepared.waits.get('Plain')?.resumable).toBe(true);
    expect(prepared.waits.get('Narrowed')?.resumable).toBe(false);
  });

  it('binds Lambda tasks by function name, full or qualified ARN, and unwraps lambda:invoke payloads', async () => {
    const calls: unknown[] = [];
    const attempt: LocalFunction = async (payload) => {
      calls.push(payload);
      return { ok: true };
    };
    const prepared = prepareDefinition(
      machine({
        ByArn: { Type: 'Task', Resource: `${ATTEMPT}:live`, Next: 'ByName' },
        ByName: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:eu-west-1:111111111111:function:other',
          Next: 'Invoke',
        },
        Invoke: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: ATTEMPT, 'Payload.$': '$' },
          End: true,
        },
      }),
      { [ATTEMPT]: attempt, other: attempt },
    );

    await prepared.tasks.get('ByArn')?.({ step: 1 });
    await prepared.tasks.get('ByName')?.({ step: 2 });
    const invoked = await prepared.tasks.get('Invoke')?.({
      FunctionName: 'attempt',
      Payload: { step: 3 },
    });

    expect(calls).toEqual([{ step: 1 }, { step: 2 }, { step: 3 }]);
    expect(invoked).toEqual({ Payload: { ok: true }, StatusCode: 200, ExecutedVersion: '$LATEST' });
    expect(() =>
      prepareDefinition(
        machine({
          T: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:0:function:gone', End: true },
        }),
        {
          [ATTEMPT]: attempt,
        },
      ),
    ).toThrow("Task state 'T': no local function for arn:aws:lambda:us-east-1:0:function:gone");
  });
});
