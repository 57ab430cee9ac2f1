/**
 * The state machine definition as the local Step Functions endpoint runs it on
 * aws-local-stepfunctions. Two things the library does not do are prepared here:
 * - Wait states become a local Task of the same name that sleeps until the instant the Wait
 *   names (Seconds, SecondsPath, Timestamp or TimestampPath). The library accepts only whole
 *   seconds in SecondsPath, while local mode scales back-off waits down to fractions
 *   (RETRY_TIME_SCALE); and a Wait that is ours to run can be checkpointed.
 * - Task states invoking a Lambda function call the in-process function of that name.
 */
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { required } from '../lambdas/core/required';

/** An in-process stand-in for a Lambda function: payload in, payload out. */
export type LocalFunction = (payload: unknown) => Promise<unknown>;

/** Below 2^31 ms, Node's timer ceiling; far above any back-off of the schedule. */
const WAIT_TASK_TIMEOUT_SECONDS = 2_000_000;
const LOCAL_WAIT_RESOURCE = 'arn:aws:lambda:us-east-1:000000000000:function:local-wait';
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';

export interface WaitBinding {
  /** Epoch ms the wait ends at, for the state's input. */
  readonly until: (data: unknown) => number;
  /** The Wait had no InputPath, so its input is the raw state data and can be resumed from. */
  readonly resumable: boolean;
}

export interface PreparedDefinition {
  readonly definition: StateMachineDefinition;
  readonly waits: ReadonlyMap<string, WaitBinding>;
  readonly tasks: ReadonlyMap<string, (input: unknown) => Promise<unknown>>;
}

export function scaledRetryIntervals(
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
    parts.push(required(m[1] ?? m[2] ?? m[3], 'a path segment'));
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

export function prepareDefinition(
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
    const name = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(ref)?.[1];
    if (name !== undefined)
      return (
        functions[name] ??
        Object.entries(functions).find(([k]) => k.endsWith(`:function:${name}`))?.[1]
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
