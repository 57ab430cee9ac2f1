/** Starts bench/support/receiver-child.js as a separate process and talks to it. */
import * as path from 'node:path';
import { required } from '../../lambdas/core/required';
import { BENCH_DIR, firstJsonLine, type ProcessRegistry } from './processes';

export interface ReceiverProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Called with [webhook-id, epoch ms] pairs (only when started with report: true). */
  onReceipts(listener: (receipts: Array<[string, number]>) => void): void;
  /** Requests answered so far. */
  count(): Promise<number>;
  stop(): Promise<void>;
}

export async function startReceiverProcess(
  procs: ProcessRegistry,
  opts: { report?: boolean } = {},
): Promise<ReceiverProcess> {
  const args = [path.join(BENCH_DIR, 'support', 'receiver-child.js')];
  if (opts.report) args.push('--report');
  const child = procs.spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] });
  const pid = required(child.pid, 'child.pid');
  const stop = procs.defer(`receiver ${pid}`, () => procs.kill(pid));
  const { port } = await firstJsonLine<{ port: number }>(child, 'receiver');
  child.stdout?.resume();
  const listeners: Array<(r: Array<[string, number]>) => void> = [];
  const counts: Array<(n: number) => void> = [];
  child.on(
    'message',
    (msg: { type: string; receipts?: Array<[string, number]>; received?: number }) => {
      if (msg.type === 'receipts' && msg.receipts) for (const l of listeners) l(msg.receipts);
      if (msg.type === 'count') counts.shift()?.(msg.received ?? 0);
    },
  );
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid,
    onReceipts(listener) {
      listeners.push(listener);
    },
    count() {
      return new Promise((resolve) => {
        counts.push(resolve);
        child.send({ type: 'count' });
      });
    },
    stop,
  };
}
