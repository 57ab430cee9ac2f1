/**
 * A small Step Functions endpoint for local mode: an HTTP server speaking the AWS JSON 1.0
 * protocol (StartExecution, DescribeExecution, StopExecution) for one state machine, whose
 * executions run in-process on aws-local-stepfunctions. The SFN client code path is the same
 * as on AWS: the handlers only see AWS_ENDPOINT_URL_SFN.
 *
 * Two things the library does not do, done here:
 * - Wait states are run by a local Task of the same name that sleeps until the instant the
 *   Wait names (Seconds, SecondsPath, Timestamp or TimestampPath). The library accepts only
 *   whole seconds in SecondsPath, while local mode scales back-off waits down to fractions
 *   (RETRY_TIME_SCALE); and a Wait that is ours to run can be checkpointed (next point).
 * - Executions survive a restart: start, every Wait entered (state name, state data, wake-up
 *   time) and the end are appended to a journal; on start, executions still running resume at
 *   the last Wait they entered, with what remained of that wait. A Task cut off by the restart
 *   runs again, which the attempt Lambda tolerates (idempotent per notification and retry).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { Journal } from './journal';
import { listen } from './listen';

/** An in-process stand-in for a Lambda function: payload in, payload out. */
export type LocalFunction = (payload: unknown) => Promise<unknown>;

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

type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

interface Checkpoint {
  readonly state: string;
  readonly data: unknown;
  /** Epoch ms at which the wait ends. */
  readonly until: number;
}

interface Execution {
  readonly name: string;
  readonly arn: string;
  readonly input: string;
  readonly startDate: number;
  status: ExecutionStatus;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  checkpoint?: Checkpoint;
  interrupt?: () => void;
  done?: Promise<void>;
}

type JournalRecord =
  | { t: 'start'; name: string; input: string; startDate: number }
  | { t: 'wait'; name: string; state: string; data: unknown; until: number }
  | {
      t: 'end';
      name: string;
      status: ExecutionStatus;
      stopDate: number;
      output?: string;
      error?: string;
      cause?: string;
    };

/** An error answered in the AWS JSON 1.0 shape; the SDK turns `code` into the exception class. */
class SfnApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const MAX_INPUT_BYTES = 256 * 1024;
const MAX_REQUEST_BYTES = 1024 * 1024;
const NINETY_DAYS_MS = 90 * 24 * 3600 * 1000;
/** Below 2^31 ms, Node's timer ceiling; far above any back-off of the schedule. */
const WAIT_TASK_TIMEOUT_SECONDS = 2_000_000;
const LOCAL_WAIT_RESOURCE = 'arn:aws:lambda:us-east-1:000000000000:function:local-wait';
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
// AWS: 1..80 characters, no whitespace, brackets, wildcards, listed punctuation or control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const NAME_PATTERN = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;

interface WaitBinding {
  /** Epoch ms the wait ends at, for the state's input. */
  readonly until: (data: unknown) => number;
  /** The Wait had no InputPath, so its input is the raw state data and can be resumed from. */
  readonly resumable: boolean;
}

interface PreparedDefinition {
  readonly definition: StateMachineDefinition;
  readonly waits: ReadonlyMap<string, WaitBinding>;
  readonly tasks: ReadonlyMap<string, (input: unknown) => Promise<unknown>>;
}

export async function startSfnEndpoint(opts: SfnEndpointOptions): Promise<SfnEndpoint> {
  const prepared = prepareDefinition(opts.definition, opts.functions);
  const arnParts = parseStateMachineArn(opts.stateMachineArn);
  const retentionMs = opts.closedRetentionMs ?? NINETY_DAYS_MS;
  const onError = opts.onError ?? (() => {});
  const journal = opts.dataDir
    ? new Journal<JournalRecord>(path.join(opts.dataDir, 'sfn-executions.jsonl'))
    : undefined;

  const executions = new Map<string, Execution>();
  const machines = new Map<string, StateMachine>();
  let stopping = false;
  let idleWaiters: (() => void)[] = [];

  machines.set(
    prepared.definition.StartAt,
    new StateMachine(prepared.definition, { validationOptions: { checkArn: false } }),
  );
  /** The same machine entered at another state (resume); validated once above. */
  const machineAt = (state: string): StateMachine => {
    let machine = machines.get(state);
    if (!machine) {
      machine = new StateMachine(
        { ...prepared.definition, StartAt: state },
        { validationOptions: { noValidate: true } },
      );
      machines.set(state, machine);
    }
    return machine;
  };

  const write = (record: JournalRecord): void => {
    if (!journal) return;
    try {
      journal.append(record);
      if (journal.size > 20_000 && journal.size > 3 * liveRecordCount()) compact();
    } catch (err) {
      onError('could not write the executions journal', err);
    }
  };
  const liveRecordCount = (): number => {
    let n = 0;
    for (const e of executions.values())
      n += 1 + (e.status === 'RUNNING' ? (e.checkpoint ? 1 : 0) : 1);
    return n;
  };
  const compact = (): void => {
    if (!journal) return;
    const cutoff = Date.now() - retentionMs;
    const records: JournalRecord[] = [];
    for (const e of [...executions.values()]) {
      if (e.status !== 'RUNNING' && (e.stopDate ?? 0) < cutoff) {
        executions.delete(e.name);
        continue;
      }
      records.push({ t: 'start', name: e.name, input: e.input, startDate: e.startDate });
      if (e.status === 'RUNNING') {
        if (e.checkpoint) records.push({ t: 'wait', name: e.name, ...e.checkpoint });
      } else {
        records.push(endRecord(e));
      }
    }
    journal.rewrite(records);
  };

  const finish = (
    e: Execution,
    status: ExecutionStatus,
    fields: { output?: string; error?: string; cause?: string },
  ) => {
    if (e.status !== 'RUNNING') return;
    e.status = status;
    e.stopDate = Date.now();
    Object.assign(e, fields);
    e.checkpoint = undefined;
    e.interrupt = undefined;
    write(endRecord(e));
    if (status === 'FAILED' || status === 'TIMED_OUT') {
      onError(
        `execution ${e.name} ${status}: ${fields.error ?? ''} ${fields.cause ?? ''}`.trim(),
        undefined,
      );
    }
  };

  const notifyIdle = () => {
    if (runningCount() > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };
  const runningCount = () => {
    let n = 0;
    for (const e of executions.values()) if (e.status === 'RUNNING') n++;
    return n;
  };

  const run = (e: Execution, resumeAt?: Checkpoint): void => {
    const interrupted = new AbortController();
    let pendingResume = resumeAt;
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [state, wait] of prepared.waits) {
      handlers[state] = async (data) => {
        let until: number;
        if (pendingResume && pendingResume.state === state) {
          until = pendingResume.until;
        } else {
          until = wait.until(data);
        }
        pendingResume = undefined;
        if (wait.resumable) {
          e.checkpoint = { state, data, until };
          write({ t: 'wait', name: e.name, state, data, until });
        }
        await sleepUntil(until, interrupted.signal);
        return data;
      };
    }
    for (const [state, invoke] of prepared.tasks) handlers[state] = invoke;
    const retryIntervalOverrides = scaledRetryIntervals(
      prepared.definition,
      opts.retryIntervalScale ?? 1,
    );

    const machine = resumeAt ? machineAt(resumeAt.state) : machineAt(prepared.definition.StartAt);
    const input = resumeAt ? resumeAt.data : JSON.parse(e.input);
    const execution = machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
      },
      noThrowOnAbort: true,
      context: {
        Execution: {
          Id: e.arn,
          Input: JSON.parse(e.input),
          Name: e.name,
          StartTime: new Date(e.startDate).toISOString(),
        },
        StateMachine: { Id: opts.stateMachineArn, Name: arnParts.name },
      } as never,
    });
    e.interrupt = () => {
      interrupted.abort();
      execution.abort();
    };
    e.done = execution.result
      .then(
        (output) => {
          // Interrupted by stop(): stays RUNNING (in the journal too) and resumes on the next start.
          if (interrupted.signal.aborted) return;
          finish(e, 'SUCCEEDED', { output: JSON.stringify(output ?? null) });
        },
        (err: unknown) => {
          if (interrupted.signal.aborted) return;
          const error = err as Error & { cause?: Error };
          if (error?.name === 'ExecutionTimeoutError') {
            finish(e, 'TIMED_OUT', { error: 'States.Timeout', cause: error.message });
          } else {
            finish(e, 'FAILED', {
              error: error?.cause?.name ?? error?.name ?? 'Error',
              cause: error?.cause?.message ?? error?.message ?? String(err),
            });
          }
        },
      )
      .finally(notifyIdle);
  };

  // Load the journal: executions still running resume where they were.
  let resumed = 0;
  if (journal) {
    for (const r of journal.read()) {
      if (r.t === 'start') {
        executions.set(r.name, {
          name: r.name,
          arn: executionArn(arnParts, r.name),
          input: r.input,
          startDate: r.startDate,
          status: 'RUNNING',
        });
        continue;
      }
      const e = executions.get(r.name);
      if (!e) continue;
      if (r.t === 'wait') {
        e.checkpoint = { state: r.state, data: r.data, until: r.until };
      } else {
        Object.assign(e, {
          status: r.status,
          stopDate: r.stopDate,
          output: r.output,
          error: r.error,
          cause: r.cause,
        });
        e.checkpoint = undefined;
      }
    }
    compact();
  }

  const startExecution = (body: Record<string, unknown>) => {
    requireArn(body.stateMachineArn, 'stateMachineArn');
    if (body.stateMachineArn !== opts.stateMachineArn) {
      throw new SfnApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${String(body.stateMachineArn)}'`,
      );
    }
    const name = body.name === undefined ? randomUUID() : body.name;
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      throw new SfnApiError('InvalidName', `Invalid Name: '${String(name)}'`);
    }
    const input = body.input === undefined ? '{}' : body.input;
    if (typeof input !== 'string')
      throw new SfnApiError('InvalidExecutionInput', 'input must be a string');
    if (Buffer.byteLength(input) > MAX_INPUT_BYTES) {
      throw new SfnApiError('InvalidExecutionInput', 'input exceeds the maximum size of 256 KiB');
    }
    try {
      JSON.parse(input);
    } catch {
      throw new SfnApiError(
        'InvalidExecutionInput',
        'Invalid State Machine Execution Input: not valid JSON',
      );
    }
    const existing = executions.get(name);
    if (existing) {
      // AWS (Standard): the same name and input while running is the same execution; otherwise it already exists.
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn: existing.arn, startDate: existing.startDate / 1000 };
      }
      throw new SfnApiError(
        'ExecutionAlreadyExists',
        `Execution Already Exists: '${existing.arn}'`,
      );
    }
    if (stopping)
      throw new SfnApiError('ServiceUnavailable', 'the local endpoint is stopping', 503);
    const e: Execution = {
      name,
      arn: executionArn(arnParts, name),
      input,
      startDate: Date.now(),
      status: 'RUNNING',
    };
    executions.set(name, e);
    write({ t: 'start', name, input, startDate: e.startDate });
    run(e);
    return { executionArn: e.arn, startDate: e.startDate / 1000 };
  };

  const findExecution = (body: Record<string, unknown>): Execution => {
    requireArn(body.executionArn, 'executionArn');
    const arn = body.executionArn as string;
    const prefix = `${executionArn(arnParts, '')}`;
    const e = arn.startsWith(prefix) ? executions.get(arn.slice(prefix.length)) : undefined;
    if (!e) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return e;
  };

  const describeExecution = (body: Record<string, unknown>) => {
    const e = findExecution(body);
    return {
      executionArn: e.arn,
      stateMachineArn: opts.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: e.startDate / 1000,
      ...(e.stopDate !== undefined ? { stopDate: e.stopDate / 1000 } : {}),
      input: e.input,
      inputDetails: { included: true },
      ...(e.output !== undefined ? { output: e.output, outputDetails: { included: true } } : {}),
      ...(e.error !== undefined ? { error: e.error } : {}),
      ...(e.cause !== undefined ? { cause: e.cause } : {}),
    };
  };

  const stopExecution = (body: Record<string, unknown>) => {
    const e = findExecution(body);
    if (e.status === 'RUNNING') {
      const interrupt = e.interrupt;
      finish(e, 'ABORTED', {
        ...(typeof body.error === 'string' ? { error: body.error } : {}),
        ...(typeof body.cause === 'string' ? { cause: body.cause } : {}),
      });
      interrupt?.();
    }
    return { stopDate: (e.stopDate ?? Date.now()) / 1000 };
  };

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    StartExecution: startExecution,
    DescribeExecution: describeExecution,
    StopExecution: stopExecution,
  };

  const server = http.createServer((req, res) => {
    const send = (status: number, payload: unknown, errorType?: string) => {
      const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.0' };
      if (errorType) headers['x-amzn-errortype'] = errorType;
      res.writeHead(status, headers).end(JSON.stringify(payload));
    };
    if (req.method === 'GET' && req.url === '/health') {
      send(stopping ? 503 : 200, { status: stopping ? 'stopping' : 'ok', running: runningCount() });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        if (req.method !== 'POST')
          throw new SfnApiError('UnknownOperationException', 'only POST is served', 404);
        if (size > MAX_REQUEST_BYTES)
          throw new SfnApiError('ValidationException', 'request too large', 413);
        const target = String(req.headers['x-amz-target'] ?? '');
        const operation = operations[target.replace(/^AWSStepFunctions\./, '')];
        if (!target.startsWith('AWSStepFunctions.') || !operation) {
          throw new SfnApiError(
            'UnknownOperationException',
            `operation not supported locally: '${target}'`,
          );
        }
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        } catch {
          throw new SfnApiError('SerializationException', 'request body is not JSON');
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new SfnApiError('SerializationException', 'request body must be a JSON object');
        }
        send(200, operation(body as Record<string, unknown>));
      } catch (err) {
        if (err instanceof SfnApiError) {
          send(
            err.status,
            { __type: `com.amazonaws.sfn#${err.code}`, message: err.message },
            err.code,
          );
        } else {
          onError('local Step Functions endpoint failed a request', err);
          send(
            500,
            { __type: 'com.amazonaws.sfn#InternalFailure', message: 'internal error' },
            'InternalFailure',
          );
        }
      }
    });
  });
  server.keepAliveTimeout = 5000;
  const address = await listen(server, opts.port, opts.host);

  for (const e of executions.values()) {
    if (e.status !== 'RUNNING') continue;
    resumed++;
    run(e, e.checkpoint);
  }

  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    stateMachineArn: opts.stateMachineArn,
    resumed,
    running: runningCount,
    whenIdle: () =>
      runningCount() === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => idleWaiters.push(resolve)),
    stop: async () => {
      if (stopping) return;
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      const pending: Promise<void>[] = [];
      for (const e of executions.values()) {
        if (e.status !== 'RUNNING') continue;
        e.interrupt?.();
        if (e.done) pending.push(e.done);
      }
      await Promise.allSettled(pending);
      await closed;
    },
  };
}

function scaledRetryIntervals(
  definition: StateMachineDefinition,
  scale: number,
): Record<string, number[]> | undefined {
  if (scale === 1) return undefined;
  const overrides: Record<string, number[]> = {};
  for (const [name, state] of Object.entries(
    definition.States as Record<string, { Retry?: { IntervalSeconds?: number }[] }>,
  )) {
    if (!Array.isArray(state.Retry)) continue;
    overrides[name] = state.Retry.map((r) => (r.IntervalSeconds ?? 1) * 1000 * scale);
  }
  return overrides;
}

function endRecord(e: Execution): JournalRecord {
  return {
    t: 'end',
    name: e.name,
    status: e.status,
    stopDate: e.stopDate ?? Date.now(),
    ...(e.output !== undefined ? { output: e.output } : {}),
    ...(e.error !== undefined ? { error: e.error } : {}),
    ...(e.cause !== undefined ? { cause: e.cause } : {}),
  };
}

function requireArn(value: unknown, field: string): void {
  if (typeof value !== 'string' || !value.startsWith('arn:')) {
    throw new SfnApiError('InvalidArn', `Invalid Arn: '${String(value)}' (${field})`);
  }
}

interface StateMachineArnParts {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly name: string;
}

function parseStateMachineArn(arn: string): StateMachineArnParts {
  const m = /^arn:([^:]+):states:([^:]+):([^:]+):stateMachine:([^:]+)$/.exec(arn);
  if (!m) throw new Error(`not a state machine ARN: ${arn}`);
  return { partition: m[1]!, region: m[2]!, account: m[3]!, name: m[4]! };
}

function executionArn(p: StateMachineArnParts, name: string): string {
  return `arn:${p.partition}:states:${p.region}:${p.account}:execution:${p.name}:${name}`;
}

async function sleepUntil(until: number, signal: AbortSignal): Promise<void> {
  // Chunks keep each timer below Node's 2^31 ms ceiling.
  for (let left = until - Date.now(); left > 0; left = until - Date.now()) {
    await sleep(Math.min(left, 2 ** 30), undefined, { signal });
  }
}

/** `$`, `$.a.b` and `$['a'].b` paths: what a Wait's SecondsPath or TimestampPath needs. */
function parsePath(expr: string, state: string): string[] {
  const unsupported = () =>
    new Error(`Wait state '${state}': path '${expr}' is not supported by the local endpoint`);
  if (!expr.startsWith('$') || expr.startsWith('$$')) throw unsupported();
  const parts: string[] = [];
  const re = /\.([A-Za-z_$][\w$-]*)|\['([^']*)'\]|\["([^"]*)"\]/y;
  let i = 1;
  while (i < expr.length) {
    re.lastIndex = i;
    const m = re.exec(expr);
    if (!m) throw unsupported();
    parts.push((m[1] ?? m[2] ?? m[3])!);
    i = re.lastIndex;
  }
  return parts;
}

function read(pathParts: readonly string[], data: unknown): unknown {
  let value: unknown = data;
  for (const key of pathParts) {
    value =
      typeof value === 'object' && value !== null
        ? (value as Record<string, unknown>)[key]
        : undefined;
  }
  return value;
}

function runtimeError(message: string): Error {
  const err = new Error(message);
  err.name = 'States.Runtime';
  return err;
}

function secondsUntil(seconds: unknown, state: string): number {
  // Unlike AWS, fractions are allowed: local mode scales waits below a second.
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    throw runtimeError(
      `Wait state '${state}': seconds evaluated to ${JSON.stringify(seconds)}, expected a number >= 0`,
    );
  }
  return Date.now() + seconds * 1000;
}

function timestampUntil(timestamp: unknown, state: string): number {
  const ms = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw runtimeError(
      `Wait state '${state}': timestamp evaluated to ${JSON.stringify(timestamp)}, expected an ISO 8601 timestamp`,
    );
  }
  return ms;
}

function waitBinding(name: string, state: Record<string, unknown>): WaitBinding['until'] {
  if (typeof state.SecondsPath === 'string') {
    const p = parsePath(state.SecondsPath, name);
    return (data) => secondsUntil(read(p, data), name);
  }
  if (typeof state.TimestampPath === 'string') {
    const p = parsePath(state.TimestampPath, name);
    return (data) => timestampUntil(read(p, data), name);
  }
  if (state.Seconds !== undefined) return () => secondsUntil(state.Seconds, name);
  if (state.Timestamp !== undefined) return () => timestampUntil(state.Timestamp, name);
  throw new Error(`Wait state '${name}' needs Seconds, SecondsPath, Timestamp or TimestampPath`);
}

function prepareDefinition(
  definition: Record<string, unknown>,
  functions: Readonly<Record<string, LocalFunction>>,
): PreparedDefinition {
  const states = definition.States as Record<string, Record<string, unknown>> | undefined;
  if (typeof definition.StartAt !== 'string' || !states || typeof states !== 'object') {
    throw new Error('state machine definition needs StartAt and States');
  }
  const resolve = (ref: unknown): LocalFunction | undefined => {
    if (typeof ref !== 'string') return undefined;
    const exact = functions[ref];
    if (exact) return exact;
    // arn:aws:lambda:region:account:function:NAME[:qualifier] -> NAME
    const m = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(ref);
    if (m)
      return (
        functions[m[1]!] ??
        Object.entries(functions).find(([k]) => k.endsWith(`:function:${m[1]}`))?.[1]
      );
    return undefined;
  };

  const waits = new Map<string, WaitBinding>();
  const tasks = new Map<string, (input: unknown) => Promise<unknown>>();
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Map' || state.Type === 'Parallel') {
      throw new Error(
        `state '${name}': ${String(state.Type)} states are not supported by the local endpoint`,
      );
    }
    if (state.Type === 'Wait') {
      const {
        Seconds: _s,
        SecondsPath: _sp,
        Timestamp: _t,
        TimestampPath: _tp,
        Type: _type,
        ...rest
      } = state;
      waits.set(name, { until: waitBinding(name, state), resumable: rest.InputPath === undefined });
      out[name] = {
        ...rest,
        Type: 'Task',
        Resource: LOCAL_WAIT_RESOURCE,
        TimeoutSeconds: WAIT_TASK_TIMEOUT_SECONDS,
      };
      continue;
    }
    if (state.Type === 'Task') {
      const resource = state.Resource;
      if (resource === LAMBDA_INVOKE) {
        // Without payloadResponseOnly the task hands over {FunctionName, Payload} and expects {Payload}.
        const params = state.Parameters as Record<string, unknown> | undefined;
        const fn = resolve(params?.FunctionName);
        if (!fn)
          throw new Error(
            `Task state '${name}': no local function for ${String(params?.FunctionName)}`,
          );
        tasks.set(name, async (input) => {
          const payload = (input as { Payload?: unknown } | null)?.Payload;
          return { Payload: await fn(payload), StatusCode: 200, ExecutedVersion: '$LATEST' };
        });
      } else {
        const fn = resolve(resource);
        if (!fn) throw new Error(`Task state '${name}': no local function for ${String(resource)}`);
        tasks.set(name, fn);
      }
    }
    out[name] = state;
  }
  return {
    definition: { ...definition, States: out } as unknown as StateMachineDefinition,
    waits,
    tasks,
  };
}
