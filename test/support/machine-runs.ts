/**
 * Runs one execution of a synthesized state machine on aws-local-stepfunctions, every Task
 * bound to one stand-in, no real waits and no pauses between task retries; counts what Step
 * Functions bills (states entered) and what it logs (history events).
 */
import { StateMachine } from 'aws-local-stepfunctions';

export interface ExecutionRun {
  readonly result: unknown;
  /** States entered: billed state transitions. */
  readonly transitions: number;
  readonly historyEvents: number;
  /** The input of every Wait state entered, in order. */
  readonly waitInputs: unknown[];
}

export async function runExecution(
  definition: Record<string, unknown>,
  input: unknown,
  task: (input: unknown) => Promise<unknown>,
): Promise<ExecutionRun> {
  const states = (definition as { States: Record<string, { Type: string }> }).States;
  const named = (type: string) =>
    Object.entries(states)
      .filter(([, s]) => s.Type === type)
      .map(([name]) => name);
  const machine = new StateMachine(definition as never, {
    validationOptions: { checkArn: false, checkPaths: false },
  });
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: Object.fromEntries(named('Task').map((n) => [n, task])) as never,
      waitTimeOverrides: Object.fromEntries(named('Wait').map((n) => [n, 0])),
      retryIntervalOverrides: Object.fromEntries(named('Task').map((n) => [n, 0])),
    },
  });
  let transitions = 0;
  let historyEvents = 0;
  const waitInputs: unknown[] = [];
  const reading = (async () => {
    for await (const event of execution.eventLogs) {
      historyEvents++;
      if (event.type !== 'StateEntered') continue;
      transitions++;
      if (event.state.type === 'Wait') waitInputs.push(event.state.input);
    }
  })();
  const result = await execution.result;
  await reading;
  return { result, transitions, historyEvents, waitInputs };
}

/** A retry execution's input, and what its Attempt task was invoked with. */
export interface ChainStep<I, T> {
  readonly input: I;
  readonly task: T;
  readonly run: ExecutionRun;
}

/**
 * Runs a chain of executions as the attempt Lambda makes it: each execution's task answers
 * with `next`, the input of the execution it starts (none: the chain ends).
 */
export async function runChain<I, T>(
  definition: Record<string, unknown>,
  first: I,
  next: (task: T, call: number) => I | undefined,
): Promise<ChainStep<I, T>[]> {
  const steps: ChainStep<I, T>[] = [];
  let calls = 0;
  for (let input: I | undefined = first; input !== undefined; ) {
    const current: I = input;
    let invoked: T | undefined;
    let started: I | undefined;
    const run = await runExecution(definition, current, async (task) => {
      invoked = task as T;
      started = next(task as T, ++calls);
      return { done: started === undefined };
    });
    steps.push({ input: current, task: invoked as T, run });
    input = started;
  }
  return steps;
}
