/**
 * Fairness between destinations, on the real handlers in local mode: how long a quiet webhook's
 * 20 notifications take behind a noisy webhook's backlog, over the same quiet run alone (measured
 * before and after, in the same process: the reference is the faster of the two).
 * - slow: 200 notifications to a receiver that answers in 3 s;
 * - flood: 10,000 notifications to a receiver that answers at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { startPlatform } from '../local/platform';
import { round, sleep } from './support/stats';
import type { Benchmark, BenchOptions, BenchResult, Row } from './support/types';

const QUIET_NOTIFICATIONS = 20;
const GOAL = 2;

interface Receiver {
  readonly url: string;
  readonly seen: number[];
  close(): void;
}

function startReceiver(delayMs: number): Promise<Receiver> {
  const seen: number[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(Date.now());
      setTimeout(() => res.writeHead(200).end('ok'), delayMs);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}`,
        seen,
        close: () => {
          server.closeAllConnections();
          server.close();
        },
      });
    }),
  );
}

async function scenario(
  mode: 'slow' | 'flood',
  log: (m: string) => void,
): Promise<{ aloneMs: number; behindMs: number; noisyDoneWhenQuietDone: number }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-fairness-'));
  const platform = await startPlatform({ port: 0, dataDir, log: () => {} });
  const receivers: Receiver[] = [];
  try {
    const api = async (method: string, route: string, body?: unknown) => {
      const res = await fetch(platform.url + route, {
        method,
        headers: {
          authorization: `Bearer ${platform.token}`,
          'content-type': 'application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (res.status >= 300) throw new Error(`${method} ${route} answered ${res.status}`);
      return (await res.json()) as { id: string };
    };
    const webhook = async (url: string, type: string) =>
      api('POST', '/webhooks', {
        name: type,
        events: [type],
        url: `${url}/in`,
        body: '{"i": {{ data.i }}}',
      });
    const publish = async (type: string, n: number) => {
      for (let i = 0; i < n; i += 100) {
        const events = Array.from({ length: Math.min(100, n - i) }, (_, j) => ({
          type,
          data: { i: i + j },
        }));
        await api('POST', '/events', { events });
      }
    };
    const quietRun = async (type: string) => {
      const quiet = await startReceiver(0);
      receivers.push(quiet);
      await webhook(quiet.url, type);
      const t0 = Date.now();
      await publish(type, QUIET_NOTIFICATIONS);
      while (quiet.seen.length < QUIET_NOTIFICATIONS) await sleep(5);
      return Math.max(...quiet.seen) - t0;
    };
    const before = await quietRun('QUIET_BEFORE');
    const noisy = await startReceiver(mode === 'slow' ? 3000 : 0);
    receivers.push(noisy);
    await webhook(noisy.url, 'NOISY');
    await publish('NOISY', mode === 'slow' ? 200 : 10_000);
    const behindMs = await quietRun('QUIET_BEHIND');
    const noisyDoneWhenQuietDone = noisy.seen.length;
    const after = await quietRun('QUIET_AFTER');
    log(`${mode}: quiet alone ${before} / ${after} ms, behind the backlog ${behindMs} ms`);
    return { aloneMs: Math.min(before, after), behindMs, noisyDoneWhenQuietDone };
  } finally {
    for (const r of receivers) r.close();
    await platform.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export const fairnessBenchmark: Benchmark = {
  name: 'fairness',
  title: 'Fairness: a quiet webhook behind a slow or flooded one (local mode, real handlers)',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const figures: Record<string, number> = {};
    const rows: Row[] = [];
    const details: Record<string, unknown> = {};
    for (const mode of ['slow', 'flood'] as const) {
      const r = await scenario(mode, opts.log);
      const ratio = round(r.behindMs / Math.max(1, r.aloneMs), 2);
      const key = mode === 'slow' ? 'noisyNeighborRatio' : 'floodedNeighborRatio';
      figures[key] = ratio;
      details[mode] = r;
      rows.push({
        label:
          mode === 'slow'
            ? 'Quiet webhook behind a slow backlog (200 x 3 s)'
            : 'Quiet webhook behind a flood (10,000 fast)',
        key,
        value: ratio,
        unit: 'x alone',
        reference: `alone ${r.aloneMs} ms, behind ${r.behindMs} ms; noisy sent meanwhile ${r.noisyDoneWhenQuietDone}`,
        goal: `<= ${GOAL}`,
        met: ratio <= GOAL,
      });
    }
    return { figures, rows, details, notes: [] };
  },
};
