/**
 * Local mode as an operator runs it: `node -r ./local/register.js local/main.ts` in a child
 * process, DATA_DIR in a temp dir. stdout and stderr are written to files (the secrets scan
 * reads them); the processes it starts (stand-ins host, DynamoDB Local) are learned from the
 * process tree once it is ready, so a crash test can check that each of them died.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { commandOf, descendantsOf, isAlive, killPid, waitGone } from './processes';

const REPO = path.resolve(__dirname, '../../..');

export interface PlatformProcess {
  readonly url: string;
  readonly token: string;
  readonly pid: number;
  /** Descendants seen once ready (stand-ins host, DynamoDB Local), with their command lines. */
  readonly children: readonly { pid: number; command: string }[];
  readonly stdoutFile: string;
  readonly stderrFile: string;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<string>;
  /** SIGKILL to the platform process only (a crash): its children must die on their own. */
  crash(): void;
  /** SIGTERM, wait; then SIGKILL to anything of ours still alive. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * The operator's graceful stop and nothing else: SIGTERM, then wait for local mode to exit by
   * itself and for its descendants to go. Kills nothing: what is still alive once local mode
   * exited and its descendants had `graceMs` is in `leftAlive` (stop() remains the cleanup).
   */
  terminate(graceMs?: number): Promise<{ exitedBy: string; leftAlive: number[] }>;
}

export interface PlatformProcessOptions {
  readonly dataDir: string;
  /** Where stdout/stderr files go; each start appends a numbered pair. */
  readonly logDir: string;
  readonly token: string;
  /** Extra switches (RETRY_TIME_SCALE, DEFINITION_CACHE_TTL_SECONDS, ...). */
  readonly env?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
}

/** A wait that does not keep the process alive on its own (stop() races it against an exit). */
function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

let starts = 0;
/** Every pid any start in this process learned: the last-resort cleanup kills these. */
const everyPid = new Set<number>();

export async function startPlatformProcess(opts: PlatformProcessOptions): Promise<PlatformProcess> {
  starts += 1;
  const stdoutFile = path.join(opts.logDir, `platform-${starts}.stdout.log`);
  const stderrFile = path.join(opts.logDir, `platform-${starts}.stderr.log`);
  const out = createWriteStream(stdoutFile);
  const err = createWriteStream(stderrFile);
  const child: ChildProcess = spawn(
    process.execPath,
    ['-r', './local/register.js', 'local/main.ts'],
    {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: '0',
        API_TOKEN: opts.token,
        DATA_DIR: opts.dataDir,
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn local mode');
  everyPid.add(pid);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(String(signal ?? code))),
  );
  const closed = (s: WriteStream) => new Promise<void>((r) => s.end(() => r()));
  const streamsDone = exited.then(async () => {
    // Let the pipes flush the last lines before the files close.
    await new Promise((r) => setTimeout(r, 100));
    await Promise.all([closed(out), closed(err)]);
  });

  let seen = '';
  const ready = new Promise<{ url: string }>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `local mode not ready within ${opts.startTimeoutMs ?? 120_000} ms:\n${seen.slice(-3000)}`,
          ),
        ),
      opts.startTimeoutMs ?? 120_000,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      out.write(chunk);
      // A restart with a backlog logs deliveries before its banner: keep only the recent output
      // (the banner line may span two chunks), so the API line is found however much came first.
      seen = (seen + chunk.toString('utf8')).slice(-20_000);
      const m = /API:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ url: m[1] });
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err.write(chunk);
      seen = (seen + chunk.toString('utf8')).slice(-20_000);
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`local mode exited (${how}) before it was ready:\n${seen.slice(-3000)}`));
    });
  });

  let stopped: Promise<void> | undefined;
  const children: { pid: number; command: string }[] = [];
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const known = [pid, ...children.map((c) => c.pid), ...descendantsOf(pid)];
      for (const p of known) everyPid.add(p);
      if (isAlive(pid)) {
        killPid(pid, 'SIGTERM');
        await Promise.race([exited, delay(20_000)]);
      }
      for (const p of await waitGone(known, 10_000)) killPid(p, 'SIGKILL');
      await waitGone(known, 5_000);
      await Promise.race([streamsDone, delay(2000)]);
    })();
    return stopped;
  };

  let url: string;
  try {
    ({ url } = await ready);
  } catch (e) {
    await stop();
    throw e;
  }
  for (const p of descendantsOf(pid)) {
    everyPid.add(p);
    children.push({ pid: p, command: commandOf(p) });
  }
  return {
    url,
    token: opts.token,
    pid,
    children,
    stdoutFile,
    stderrFile,
    exited,
    crash: () => killPid(pid, 'SIGKILL'),
    stop,
    async terminate(graceMs = 30_000) {
      const known = [pid, ...children.map((c) => c.pid), ...descendantsOf(pid)];
      for (const p of known) everyPid.add(p);
      if (isAlive(pid)) killPid(pid, 'SIGTERM');
      // Waits for the exit itself (the event); the bound only keeps a hung stop from hanging the suite.
      const exitedBy = await Promise.race([exited, delay(120_000).then(() => 'still running')]);
      const leftAlive = await waitGone(known, graceMs);
      await Promise.race([streamsDone, delay(2000)]);
      return { exitedBy, leftAlive };
    },
  };
}

/** Kills every process any start learned about (afterAll backstop). Returns those that had to be killed. */
export async function killEverythingStarted(): Promise<number[]> {
  const alive = [...everyPid].filter(isAlive);
  for (const p of alive) killPid(p, 'SIGKILL');
  await waitGone(alive, 5000);
  return alive;
}
