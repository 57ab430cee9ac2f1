/**
 * The executions of the local Step Functions endpoint: started, described and stopped by name,
 * run in-process on aws-local-stepfunctions, and kept across restarts. Start, every Wait
 * entered (state name, state data, wake-up time) and the end are appended to a journal; on
 * start, executions still running resume at the last Wait they entered, with what remained of
 * that wait. A Task cut off by the restart runs again, which the attempt Lambda tolerates
 * (idempotent per notification and retry).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StateMachine } from 'aws-local-stepfunctions';
import { AwsJsonError, type AwsJsonOperation } from './aws-json';
import { Journal } from './journal';
import { type PreparedDefinition, scaledRetryIntervals } from './sfn-definition';

export interface ExecutionRegistryOptions {
  readonly prepared: PreparedDefinition;
  readonly stateMachineArn: string;
  /** Where the executions journal lives; without it, executions are kept in memory only. */
  readonly dataDir?: string;
  /** Multiplies the pauses of Retry fields (see SfnEndpointOptions.retryIntervalScale). */
  readonly retryIntervalScale?: number;
  /** How long finished executions are remembered (default 90 days, as on AWS). */
  readonly closedRetentionMs?: number;
  readonly onError: (message: string, err: unknown) => void;
}

export interface ExecutionRegistry {
  /** StartExecution, DescribeExecution and StopExecution. */
  readonly operations: Readonly<Record<string, AwsJsonOperation>>;
  readonly stopping: () => boolean;
  runningCount(): number;
  whenIdle(): Promise<void>;
  /** Runs the executions the journal left RUNNING; how many. */
  resumeAll(): number;
  /** Refuses new executions and interrupts running ones (they stay RUNNING in the journal). */
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

const MAX_INPUT_BYTES = 256 * 1024;
const NINETY_DAYS_MS = 90 * 24 * 3600 * 1000;
// AWS: 1..80 characters, no whitespace, brackets, wildcards, listed punctuation or control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const NAME_PATTERN = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;

export function createExecutionRegistry(opts: ExecutionRegistryOptions): ExecutionRegistry {
  const prepared = opts.prepared;
  const arnParts = parseStateMachineArn(opts.stateMachineArn);
  const retentionMs = opts.closedRetentionMs ?? NINETY_DAYS_MS;
  const onError = opts.onError ?? (() => {});
  const journal = opts.dataDir
    ? new Journal<JournalRecord>(executionsJournalPath(opts.dataDir, opts.stateMachineArn))
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

  // Load the journal: executions still running resume where they were (resumeAll).
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
      throw new AwsJsonError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${String(body.stateMachineArn)}'`,
      );
    }
    const name = body.name === undefined ? randomUUID() : body.name;
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      throw new AwsJsonError('InvalidName', `Invalid Name: '${String(name)}'`);
    }
    const input = body.input === undefined ? '{}' : body.input;
    if (typeof input !== 'string')
      throw new AwsJsonError('InvalidExecutionInput', 'input must be a string');
    if (Buffer.byteLength(input) > MAX_INPUT_BYTES) {
      throw new AwsJsonError('InvalidExecutionInput', 'input exceeds the maximum size of 256 KiB');
    }
    try {
      JSON.parse(input);
    } catch {
      throw new AwsJsonError(
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
      throw new AwsJsonError(
        'ExecutionAlreadyExists',
        `Execution Already Exists: '${existing.arn}'`,
      );
    }
    if (stopping)
      throw new AwsJsonError('ServiceUnavailable', 'the local endpoint is stopping', 503);
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
    if (!e) throw new AwsJsonError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
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

  return {
    operations: {
      StartExecution: startExecution,
      DescribeExecution: describeExecution,
      StopExecution: stopExecution,
    },
    stopping: () => stopping,
    runningCount,
    whenIdle: () =>
      runningCount() === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => idleWaiters.push(resolve)),
    resumeAll: () => {
      let resumed = 0;
      for (const e of executions.values()) {
        if (e.status !== 'RUNNING') continue;
        resumed++;
        run(e, e.checkpoint);
      }
      return resumed;
    },
    stop: async () => {
      stopping = true;
      const pending: Promise<void>[] = [];
      for (const e of executions.values()) {
        if (e.status !== 'RUNNING') continue;
        e.interrupt?.();
        if (e.done) pending.push(e.done);
      }
      await Promise.allSettled(pending);
    },
  };
}

/** The journal of one machine's executions under `dataDir` (one file per machine name). */
export function executionsJournalPath(dataDir: string, stateMachineArn: string): string {
  return path.join(dataDir, `sfn-executions-${parseStateMachineArn(stateMachineArn).name}.jsonl`);
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
    throw new AwsJsonError('InvalidArn', `Invalid Arn: '${String(value)}' (${field})`);
  }
}

interface StateMachineArnParts {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly name: string;
}

function parseStateMachineArn(arn: string): StateMachineArnParts {
  const [, partition, region, account, name] =
    /^arn:([^:]+):states:([^:]+):([^:]+):stateMachine:([^:]+)$/.exec(arn) ?? [];
  if (!partition || !region || !account || !name)
    throw new Error(`not a state machine ARN: ${arn}`);
  return { partition, region, account, name };
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
