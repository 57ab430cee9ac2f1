/**
 * A small Step Functions endpoint for local mode: an HTTP server speaking the AWS JSON 1.0
 * protocol (StartExecution, DescribeExecution, StopExecution) for a few state machines, whose
 * executions run in-process on aws-local-stepfunctions. The SFN client code path is the same
 * as on AWS: the handlers only see AWS_ENDPOINT_URL_SFN.
 *
 * The definition is prepared in sfn-definition.ts (Wait states run locally so they can be
 * scaled and checkpointed); executions, their journal and their resumption after a restart
 * live in sfn-executions.ts; the wire protocol in aws-json.ts.
 */
import { createAwsJsonServer } from './aws-json';
import { listen } from './listen';
import { type LocalFunction, prepareDefinition } from './sfn-definition';
import { createExecutionRegistry, type ExecutionRegistry } from './sfn-executions';

export type { LocalFunction } from './sfn-definition';
export { executionsJournalPath } from './sfn-executions';

export interface LocalStateMachine {
  /** ASL (JSONPath). */
  readonly definition: Record<string, unknown>;
  readonly stateMachineArn: string;
}

export interface SfnEndpointOptions {
  /** The state machines served (each journals its executions in a file of its own). */
  readonly machines: readonly LocalStateMachine[];
  /** Lambda function ARN or name -> the function Task states invoke. */
  readonly functions: Readonly<Record<string, LocalFunction>>;
  /** Where the executions journal lives; without it, executions are kept in memory only. */
  readonly dataDir?: string;
  readonly host?: string;
  /** 0 (default): any free port. */
  readonly port?: number;
  /**
   * Multiplies the pauses of Retry fields (RETRY_TIME_SCALE), so a failing Task retries quickly
   * when waits are scaled down. The library takes one fixed pause per retrier, so the scaled
   * pause is IntervalSeconds x scale without BackoffRate growth. Default 1 (as defined).
   */
  readonly retryIntervalScale?: number;
  /** How long finished executions are remembered for name idempotency and DescribeExecution (default 90 days, as on AWS). */
  readonly closedRetentionMs?: number;
  /** Called when an execution fails or the journal cannot be written. */
  readonly onError?: (message: string, err: unknown) => void;
}

export interface SfnEndpoint {
  /** http://host:port, for AWS_ENDPOINT_URL_SFN. */
  readonly url: string;
  /** Executions resumed from the journal at start. */
  readonly resumed: number;
  /** The same, by state machine ARN. */
  readonly resumedByMachine: Readonly<Record<string, number>>;
  running(): number;
  /** Resolves when no execution is running (tests, benchmarks). */
  whenIdle(): Promise<void>;
  /** Stops serving and interrupts running executions; they stay RUNNING in the journal and resume on the next start. */
  stop(): Promise<void>;
}

const MAX_REQUEST_BYTES = 1024 * 1024;

export async function startSfnEndpoint(opts: SfnEndpointOptions): Promise<SfnEndpoint> {
  const onError = opts.onError ?? (() => {});
  const registries = opts.machines.map((machine) => ({
    arn: machine.stateMachineArn,
    registry: createExecutionRegistry({
      prepared: prepareDefinition(machine.definition, opts.functions),
      stateMachineArn: machine.stateMachineArn,
      dataDir: opts.dataDir,
      retryIntervalScale: opts.retryIntervalScale,
      closedRetentionMs: opts.closedRetentionMs,
      onError,
    }),
  }));
  const first = registries[0]?.registry;
  if (!first) throw new Error('the local Step Functions endpoint needs a state machine');
  // By the machine a request names (its ARN, or an execution's); an unknown one gets the
  // first machine's answer: StateMachineDoesNotExist or ExecutionDoesNotExist.
  const owner = (body: Record<string, unknown>): ExecutionRegistry => {
    const { stateMachineArn, executionArn } = body;
    const found = registries.find(
      ({ arn }) =>
        stateMachineArn === arn ||
        (typeof executionArn === 'string' &&
          executionArn.startsWith(`${arn.replace(':stateMachine:', ':execution:')}:`)),
    );
    return found?.registry ?? first;
  };
  const operations = Object.fromEntries(
    Object.keys(first.operations).map((op) => [
      op,
      (body: Record<string, unknown>) => owner(body).operations[op]?.(body),
    ]),
  );
  const all = registries.map((r) => r.registry);
  const runningCount = () => all.reduce((n, r) => n + r.runningCount(), 0);
  const registry = {
    stopping: first.stopping,
    runningCount,
    whenIdle: async () => {
      while (runningCount() > 0) await Promise.all(all.map((r) => r.whenIdle()));
    },
    resumeAll: () =>
      Object.fromEntries(registries.map(({ arn, registry: r }) => [arn, r.resumeAll()])),
    stop: async () => {
      await Promise.all(all.map((r) => r.stop()));
    },
  };

  const server = createAwsJsonServer({
    service: 'sfn',
    name: 'local Step Functions endpoint',
    targetPrefix: 'AWSStepFunctions.',
    operations,
    maxRequestBytes: MAX_REQUEST_BYTES,
    health: () => {
      const stopping = registry.stopping();
      return {
        status: stopping ? 503 : 200,
        body: { status: stopping ? 'stopping' : 'ok', running: registry.runningCount() },
      };
    },
    onError,
  });
  server.keepAliveTimeout = 5000;
  const address = await listen(server, opts.port, opts.host);
  const resumedByMachine = registry.resumeAll();

  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    resumed: Object.values(resumedByMachine).reduce((a, b) => a + b, 0),
    resumedByMachine,
    running: registry.runningCount,
    whenIdle: registry.whenIdle,
    stop: async () => {
      if (registry.stopping()) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await registry.stop();
      await closed;
    },
  };
}
