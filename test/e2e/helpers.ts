/**
 * Helpers of the end-to-end tests: local mode started as a child process exactly as
 * `npm start` starts it, a small HTTP client for its API, polling with a deadline, and process
 * inspection through /proc (to prove the Java process is gone after a stop).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort } from '../../local/standins';
import { eventually } from '../support/eventually';
import { lateBound } from '../support/late-bound';
import { type Receiver, startReceiver } from '../support/receivers';

const ROOT = path.resolve(__dirname, '../..');

export interface LocalProcess {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout + stderr so far (for failure messages). */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

/** Spawns `node -r ./local/register.js local/main.ts` with `env` on top of a clean environment. */
export function spawnLocal(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
} {
  const child = spawn(process.execPath, ['-r', './local/register.js', 'local/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? os.tmpdir(),
      JAVA_HOME: process.env.JAVA_HOME ?? '',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, output: () => out, exited };
}

/**
 * Starts local mode on a free port and waits until /health answers 200. Without `dataDir` it
 * runs on a fresh temporary one, removed once the process has exited (a test that restarts on
 * the same data passes its own, and removes it).
 */
export async function startLocal(opts: {
  dataDir?: string;
  env?: Record<string, string>;
  port?: number;
}): Promise<LocalProcess> {
  const port = opts.port ?? (await freePort());
  const token = `e2e-${Math.random().toString(36).slice(2)}`;
  const dataDir = opts.dataDir ?? tempDataDir();
  const { child, output, exited } = spawnLocal({
    PORT: String(port),
    API_TOKEN: token,
    DATA_DIR: dataDir,
    ...opts.env,
  });
  if (opts.dataDir === undefined)
    void exited.then(() => {
      try {
        fs.rmSync(dataDir, { recursive: true, force: true });
      } catch (err) {
        process.stderr.write(`could not remove ${dataDir}: ${String(err)}\n`);
      }
    });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  let exitedEarly = false;
  void exited.then(() => {
    exitedEarly = true;
  });
  try {
    await eventually(
      async () => {
        if (exitedEarly) throw new Error(`local mode exited while starting:\n${output()}`);
        const res = await fetch(`${url}/health`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      {
        timeoutMs: 90_000,
        what: 'local mode to become healthy',
        fatal: (e) => /exited while starting/.test(e.message),
      },
    );
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
  return { url, port, token, child, pid: child.pid!, output, exited, stop };
}

/** Kills every child these helpers spawned that is still running (afterAll, also after failures). */
export async function killAllLocal(): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const child of running) {
    waits.push(new Promise((resolve) => child.once('exit', () => resolve())));
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  }
  await Promise.all(waits);
}

export function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-e2e-'));
}

// biome-ignore lint/suspicious/noExplicitAny: responses are JSON inspected field by field in assertions
type Json = any;

export interface ApiResponse<T = Json> {
  status: number;
  body: T;
  headers: Headers;
}

/** The platform's HTTP API with a bearer token (or a given Authorization header). */
export function apiClient(baseUrl: string, token: string) {
  const call = async <T = Json>(
    method: string,
    pathname: string,
    body?: unknown,
    opts: { authorization?: string | null; contentType?: string; rawBody?: string } = {},
  ): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = {};
    const authorization = opts.authorization === undefined ? `Bearer ${token}` : opts.authorization;
    if (authorization !== null) headers.authorization = authorization;
    let payload: string | undefined;
    if (opts.rawBody !== undefined) payload = opts.rawBody;
    else if (body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    const res = await fetch(`${baseUrl}${pathname}`, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
  return {
    call,
    get: <T = Json>(p: string) => call<T>('GET', p),
    post: <T = Json>(p: string, body?: unknown) => call<T>('POST', p, body),
    put: <T = Json>(p: string, body?: unknown) => call<T>('PUT', p, body),
    del: <T = Json>(p: string) => call<T>('DELETE', p),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/** A webhook definition to a receiver, with a JSON body template over the event data. */
export function definitionFor(
  url: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name: 'e2e webhook',
    events: ['LOAN_DISBURSEMENT'],
    enabled: true,
    method: 'POST',
    url: `${url}/loans/{{ data.loanId }}`,
    contentType: 'application/json',
    headers: { 'X-Branch': '{{ data.branch }}' },
    body: '{"loan": {{ data.loanId | json }}, "amount": {{ data.amount }}}',
    ...overrides,
  };
}

/** Waits until the notification reaches `status` and returns it. */
export function notificationWithStatus(
  api: ApiClient,
  id: string,
  status: string,
  seconds = 60,
): Promise<Json> {
  return eventually(
    async () => {
      const res = await api.get(`/notifications/${id}`);
      return res.status === 200 && res.body.status === status ? res.body : undefined;
    },
    { timeoutMs: seconds * 1000, what: `notification ${id} to be ${status}` },
  );
}

/** The notification of one webhook for one event (created by the delivery Lambda, so polled). */
export function notificationFor(
  api: ApiClient,
  webhookId: string,
  eventId: string,
  seconds = 30,
): Promise<Json> {
  return eventually(
    async () => {
      const res = await api.get(
        `/notifications?webhookId=${encodeURIComponent(webhookId)}&limit=100`,
      );
      return res.status === 200
        ? res.body.items.find((n: { eventId: string }) => n.eventId === eventId)
        : undefined;
    },
    { timeoutMs: seconds * 1000, what: `a notification of ${webhookId} for ${eventId}` },
  );
}

/** Pids of running processes whose command line contains `needle` (e.g. a DATA_DIR path). */
export function pidsWithArg(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids.filter((p) => p !== process.pid);
}

/** Java (DynamoDB Local) processes started for this DATA_DIR (its -dbPath is under it). */
export function javaPidsFor(dataDir: string): number[] {
  return pidsWithArg(path.join(path.resolve(dataDir), 'dynamodb')).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('DynamoDBLocal');
    } catch {
      return false;
    }
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface LocalMode {
  /** The data directory of this local mode (removed after the suite). */
  readonly dataDir: string;
  /** Its HTTP API, with the token (usable from the suite's tests on, after beforeAll). */
  readonly api: ApiClient;
  /** The running process (from the suite's tests on). */
  local(): LocalProcess;
  /** A loopback receiver that is closed after the suite. */
  receiver(behaviour: Parameters<typeof startReceiver>[0]): Promise<Receiver>;
}

/**
 * Local mode for the describe block this is called in: `npm start` in a child process with
 * `env` on its own data directory, started before the block's tests; afterwards its receivers
 * are closed, the process stopped (also after a failure) and the directory removed.
 */
export function useLocalMode(env: Record<string, string>): LocalMode {
  const dataDir = tempDataDir();
  const receivers: Receiver[] = [];
  let started: { local: LocalProcess; api: ApiClient } | undefined;
  const current = () => {
    if (!started) throw new Error('local mode is not started yet (use it inside a test)');
    return started;
  };

  beforeAll(async () => {
    const local = await startLocal({ dataDir, env });
    started = { local, api: apiClient(local.url, local.token) };
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(receivers.map((r) => r.close()));
    await killAllLocal();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  const api = lateBound(() => current().api);
  return {
    dataDir,
    api,
    local: () => current().local,
    async receiver(behaviour) {
      const r = await startReceiver(behaviour);
      receivers.push(r);
      return r;
    },
  };
}
