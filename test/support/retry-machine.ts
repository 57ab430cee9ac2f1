/**
 * The retry state machine as CDK synthesizes it, executed in-process by aws-local-stepfunctions,
 * with every Lambda task bound to a local function (the real attempt handler in tests).
 * Implements the RetryScheduler port, so the delivery engine (and the attempt handler, which
 * starts the next retry's execution) starts it as it starts the real one.
 */
import { StateMachine } from 'aws-local-stepfunctions';
import type {
  AttemptLambdaInput,
  AttemptTaskOutput,
  RetryExecutionInput,
  RetryStart,
} from '../../lambdas/core/retry-contract';
import { retryExecutionName } from '../../lambdas/core/retry-contract';
import type { RetryScheduler } from '../../lambdas/ports';
import { synthesizeRetryDefinition } from '../../lib/retry-definition';

export interface TaskCall {
  readonly state: string;
  /** The execution that invoked the task. */
  readonly execution: string;
  readonly input: AttemptLambdaInput;
  readonly output: AttemptTaskOutput;
}

export interface LocalRetryMachine extends RetryScheduler {
  /** Every start() call, duplicates included. */
  readonly starts: RetryStart[];
  /** Executions by name, in the order started: a second start with the same name does not create a second one. */
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
  const handlersFor = (execution: string) =>
    Object.fromEntries(
      taskStates.map((state) => [
        state,
        async (input: AttemptLambdaInput) => {
          const output = await invoke(input);
          calls.push({ state, execution, input, output });
          return output;
        },
      ]),
    );
  const starts: RetryStart[] = [];
  const executions = new Map<string, Promise<unknown>>();
  return {
    starts,
    executions,
    calls,
    async start(input) {
      starts.push(input);
      const name = retryExecutionName(input);
      if (executions.has(name)) return;
      const payload: RetryExecutionInput = {
        notificationId: input.notificationId,
        retry: input.retry,
        nextAttemptAt: input.nextAttemptAt,
      };
      const execution = machine.run(
        { ...payload },
        {
          overrides: { taskResourceLocalHandlers: handlersFor(name) as never },
        },
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
