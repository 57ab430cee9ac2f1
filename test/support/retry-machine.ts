/**
 * The retry state machine as CDK synthesizes it, executed in-process by aws-local-stepfunctions,
 * with every Lambda task bound to a local function (the real attempt handler in tests).
 * Implements the RetryScheduler port, so the delivery engine starts it as it starts the real one.
 */
import { StateMachine } from 'aws-local-stepfunctions';
import type {
  AttemptLambdaInput,
  AttemptTaskOutput,
  RetryExecutionInput,
} from '../../lambdas/core/retry-contract';
import { retryExecutionName } from '../../lambdas/core/retry-contract';
import type { RetryScheduler } from '../../lambdas/ports';
import { synthesizeRetryDefinition } from '../../lib/retry-definition';

export interface TaskCall {
  readonly state: string;
  readonly input: AttemptLambdaInput;
  readonly output: AttemptTaskOutput;
}

export interface LocalRetryMachine extends RetryScheduler {
  /** Every start() call, duplicates included. */
  readonly starts: RetryExecutionInput[];
  /** Executions by name: a second start with the same name does not create a second one. */
  readonly executions: Map<string, Promise<unknown>>;
  /** Every Lambda task invocation, in order. */
  readonly calls: TaskCall[];
  /** Resolves when every execution started so far has ended (rejects if one failed). */
  settle(): Promise<void>;
}

export function createLocalRetryMachine(
  invoke: (input: AttemptLambdaInput) => Promise<AttemptTaskOutput>,
  schedule?: readonly number[],
): LocalRetryMachine {
  const definition = synthesizeRetryDefinition({ schedule });
  const machine = new StateMachine(definition as never, {
    validationOptions: { checkArn: false, checkPaths: false },
  });
  const states = (definition as { States: Record<string, { Type: string }> }).States;
  const taskStates = Object.entries(states)
    .filter(([, state]) => state.Type === 'Task')
    .map(([name]) => name);
  const calls: TaskCall[] = [];
  const handlers = Object.fromEntries(
    taskStates.map((state) => [
      state,
      async (input: AttemptLambdaInput) => {
        const output = await invoke(input);
        calls.push({ state, input, output });
        return output;
      },
    ]),
  );
  const starts: RetryExecutionInput[] = [];
  const executions = new Map<string, Promise<unknown>>();
  return {
    starts,
    executions,
    calls,
    async start(input) {
      starts.push(input);
      const name = retryExecutionName(input.notificationId);
      if (executions.has(name)) return;
      const execution = machine.run(
        { ...input },
        { overrides: { taskResourceLocalHandlers: handlers as never } },
      );
      executions.set(name, execution.result);
    },
    async settle() {
      let seen = 0;
      while (seen < executions.size) {
        seen = executions.size;
        await Promise.all(executions.values());
      }
    },
  };
}
