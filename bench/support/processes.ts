/**
 * Every process a benchmark starts is registered here and ended by its pid when the run ends,
 * on every path: normal end, a thrown error, Ctrl-C, SIGTERM. Clean-ups of other resources
 * (stand-ins, platforms) are registered as callbacks and run in reverse order.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import * as path from 'node:path';
import { required } from '../../lambdas/core/required';

export const BENCH_DIR = path.join(__dirname, '..');
export const PROJECT_ROOT = path.join(BENCH_DIR, '..');

export class ProcessRegistry {
  private readonly children = new Map<number, ChildProcess>();
  private readonly cleanups: Array<{ label: string; run: () => Promise<void> }> = [];
  private closing = false;

  spawn(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, ...options });
    if (child.pid === undefined) throw new Error(`could not start ${command} ${args.join(' ')}`);
    const pid = child.pid;
    this.children.set(pid, child);
    child.once('exit', () => this.children.delete(pid));
    return child;
  }

  /** Registers a clean-up (e.g. stopping stand-ins); returns a function that runs it now, once. */
  defer(label: string, run: () => Promise<void>): () => Promise<void> {
    let done = false;
    const entry = {
      label,
      run: async () => {
        if (done) return;
        done = true;
        await run();
      },
    };
    this.cleanups.push(entry);
    return async () => {
      const i = this.cleanups.indexOf(entry);
      if (i >= 0) this.cleanups.splice(i, 1);
      await entry.run();
    };
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
  async kill(pid: number, graceMs = 3000): Promise<void> {
    const child = this.children.get(pid);
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.children.delete(pid);
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      this.children.delete(pid);
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, graceMs);
    await exited;
    clearTimeout(timer);
    this.children.delete(pid);
  }

  get pids(): number[] {
    return [...this.children.keys()];
  }

  /** Runs the clean-ups (newest first), then ends every remaining child by its pid. */
  async closeAll(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    while (this.cleanups.length > 0) {
      const entry = required(this.cleanups.pop(), 'this.cleanups.pop()');
      try {
        await entry.run();
      } catch (err) {
        process.stderr.write(`clean-up "${entry.label}" failed: ${String(err)}\n`);
      }
    }
    await Promise.all(this.pids.map((pid) => this.kill(pid)));
  }

  /** Accepts new processes and clean-ups again after closeAll (the next benchmark). */
  reopen(): void {
    this.closing = false;
  }

  /** Last resort on process exit: SIGKILL by pid whatever is still registered (synchronous). */
  killSync(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Reads the first JSON line a child prints on stdout (e.g. {"port":N}). */
export function firstJsonLine<T>(
  child: ChildProcess,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    const timer = setTimeout(
      () => done(new Error(`${what} did not start within ${timeoutMs} ms: ${stderr.slice(-500)}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('{')) {
          try {
            done(undefined, JSON.parse(line) as T);
            return;
          } catch {
            // not ours; keep reading
          }
        }
        nl = buffer.indexOf('\n');
      }
    };
    const onErr = (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`${what} exited (${signal ?? code}) before starting: ${stderr.slice(-500)}`));
    function done(err?: Error, value?: T) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      // Keep draining stderr so a chatty child never blocks on a full pipe.
      if (err) reject(err);
      else resolve(value as T);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}
