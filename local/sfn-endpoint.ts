/**
 * A small Step Functions endpoint for local mode: an HTTP server speaking the AWS JSON 1.0
 * protocol (StartExecution, DescribeExecution, StopExecution) for one state machine, whose
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
import { createExecutionRegistry } from './sfn-executions';

export type { LocalFunction } from './sfn-definition';

export interface SfnEndpointOptions {
  /** ASL (JSONPath) of the one state machine served. */
  readonly definition: Record<string, unknown>;
  readonly stateMachineArn: string;
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
  readonly stateMachineArn: string;
  /** Executions resumed from the journal at start. */
  readonly resumed: number;
  running(): number;
  /** Resolves when no execution is running (tests, benchmarks). */
  whenIdle(): Promise<void>;
  /** Stops serving and interrupts running executions; they stay RUNNING in the journal and resume on the next start. */
  stop(): Promise<void>;
}

const MAX_REQUEST_BYTES = 1024 * 1024;

export async function startSfnEndpoint(opts: SfnEndpointOptions): Promise<SfnEndpoint> {
  const onError = opts.onError ?? (() => {});
  const registry = createExecutionRegistry({
    prepared: prepareDefinition(opts.definition, opts.functions),
    stateMachineArn: opts.stateMachineArn,
    dataDir: opts.dataDir,
    retryIntervalScale: opts.retryIntervalScale,
    closedRetentionMs: opts.closedRetentionMs,
    onError,
  });

  const server = createAwsJsonServer({
    service: 'sfn',
    name: 'local Step Functions endpoint',
    targetPrefix: 'AWSStepFunctions.',
    operations: registry.operations,
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
  const resumed = registry.resumeAll();

  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    stateMachineArn: opts.stateMachineArn,
    resumed,
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
