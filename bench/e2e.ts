/**
 * Local mode end to end: POST /events to the platform (local/platform.ts startPlatform, in its
 * own process) until the webhook arrives at a loopback receiver (another process), with the
 * webhook registered through the HTTP API. Reference: a bare loopback HTTP round trip to the
 * same receiver in the same run.
 *  - e2eP50Ms / e2eP99Ms: 1,000 single-event POSTs at 50 per second.
 *  - e2eMaxEventsPerSec: the highest rate sustained for 30 s with nothing lost (batches of 10
 *    events per POST, as in the cost model's standard scenario): rates are stepped up in short
 *    probes, then the best is confirmed for 30 s. Sustained = every event accepted (202) and
 *    received within LAG_BOUND_MS of being sent; an event never received is a loss.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Pool } from 'undici';
import { notificationIdFor } from '../lambdas/core/ids';
import { required } from '../lambdas/core/required';
import { REFERENCE_EVENT_TYPE, referenceData, referenceDefinition } from './fixtures/reference';
import { BENCH_DIR, type ProcessRegistry } from './support/processes';
import { summarise } from './support/profile';
import { startReceiverProcess } from './support/receiver';
import { median, quantile, round, sleep } from './support/stats';
import type { Benchmark, BenchOptions, BenchResult, Row } from './support/types';

const GOAL_P99_MS = 250;
/** An event not received within this long after it was sent breaks "sustained". */
export const LAG_BOUND_MS = 5000;
const BATCH = 10;

const now = () => performance.timeOrigin + performance.now();

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** BENCH_PLATFORM_OPTIONS: JSON merged into the startPlatform options (experiments, e.g. {"pollers":16}). */
function extraPlatformOptions(): Record<string, unknown> {
  const raw = process.env.BENCH_PLATFORM_OPTIONS;
  if (!raw) return {};
  const parsed: unknown = JSON.parse(raw);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error('BENCH_PLATFORM_OPTIONS must be a JSON object');
  return parsed as Record<string, unknown>;
}

interface PlatformChild {
  readonly url: string;
  readonly token: string;
  readonly pid: number;
  readonly pids: { readonly standInsHost: number; readonly dynamo: number };
  stop(): Promise<void>;
}

async function startPlatformChild(
  procs: ProcessRegistry,
  dataDir: string,
  token: string,
  profileDir?: string,
): Promise<PlatformChild> {
  const child = procs.spawn(
    process.execPath,
    [
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      '-r',
      './local/register.js',
      path.join(BENCH_DIR, 'support', 'platform-child.ts'),
      JSON.stringify({ port: 0, dataDir, token, retryTimeScale: 0.001, ...extraPlatformOptions() }),
    ],
    // Handler logs (one JSON line per delivery) go nowhere; they still cost what they cost.
    { stdio: ['pipe', 'ignore', 'pipe', 'ipc'] },
  );
  const pid = required(child.pid, 'child.pid');
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-4000);
  });
  let grandchildren: number[] = [];
  const stop = procs.defer(`platform ${pid}`, async () => {
    // platform.stop() drains pollers (up to 5 s) and stops DynamoDB Local.
    await procs.kill(pid, 20_000);
    // Its stand-ins follow it (they watch its stdin); make sure, by pid.
    for (const gc of grandchildren) {
      try {
        process.kill(gc, 0);
        process.kill(gc, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  const ready = await new Promise<{
    url: string;
    token: string;
    pids: { standInsHost: number; dynamo: number };
  }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`local platform did not start within 120 s: ${stderr.slice(-800)}`)),
      120_000,
    );
    child.on(
      'message',
      (msg: {
        type?: string;
        url: string;
        token: string;
        pids: { standInsHost: number; dynamo: number };
      }) => {
        if (msg.type === 'ready') {
          clearTimeout(timer);
          resolve(msg);
        }
      },
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new Error(`local platform exited (${code}) before it was ready: ${stderr.slice(-800)}`),
      );
    });
  });
  grandchildren = [ready.pids.standInsHost, ready.pids.dynamo];
  return { url: ready.url, token: ready.token, pid, pids: ready.pids, stop };
}

interface Tracker {
  /** notification id -> send time (epoch ms) */
  readonly sent: Map<string, number>;
  /** notification id -> first receipt latency (ms) */
  readonly latency: Map<string, number>;
  duplicates: number;
  unknown: number;
}

interface PhaseResult {
  readonly events: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly received: number;
  /** Not received when the phase's drain ended (late, or lost: see the final count). */
  readonly notYetReceived: number;
  readonly duplicates: number;
  readonly maxLagMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly achievedRate: number;
  /** Stopped early: an event was overdue (more than LAG_BOUND_MS). */
  readonly aborted: boolean;
  /** POST /events response time (202), p50. */
  readonly ingestP50Ms: number;
  readonly firstError?: string;
}

export const e2eBenchmark: Benchmark = {
  name: 'e2e',
  title: 'Local mode end to end: POST /events to receipt at a loopback receiver',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const receiver = await startReceiverProcess(opts.procs, { report: true });
    const tracker: Tracker = { sent: new Map(), latency: new Map(), duplicates: 0, unknown: 0 };
    receiver.onReceipts((receipts) => {
      for (const [id, at] of receipts) {
        if (id === '') continue; // the bare round trips carry no webhook-id
        const sentAt = tracker.sent.get(id);
        if (sentAt === undefined) tracker.unknown++;
        else if (tracker.latency.has(id)) tracker.duplicates++;
        else tracker.latency.set(id, at - sentAt);
      }
    });
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-e2e-'));
    const token = randomBytes(18).toString('base64url');
    const t0 = Date.now();
    // With --profile the platform process writes a CPU profile when it stops (summarised below).
    const profileDir = opts.profile
      ? mkdtempSync(path.join(os.tmpdir(), 'bench-e2e-profile-'))
      : undefined;
    const platform = await startPlatformChild(opts.procs, dataDir, token, profileDir);
    opts.log(
      `local platform pid ${platform.pid} ready at ${platform.url} in ${Date.now() - t0} ms; receiver pid ${receiver.pid}`,
    );
    const api = new Pool(platform.url, { connections: 64 });
    const bare = new Pool(receiver.url, { connections: 64 });
    const notes: string[] = [];
    try {
      const auth = {
        authorization: `Bearer ${platform.token}`,
        'content-type': 'application/json',
      };
      const {
        id: _id,
        version: _v,
        createdAt: _c,
        updatedAt: _u,
        ...definition
      } = referenceDefinition(receiver.url);
      const created = await api.request({
        method: 'POST',
        path: '/webhooks',
        headers: auth,
        body: JSON.stringify(definition),
      });
      const createdBody = (await created.body.json()) as { id?: string };
      if (created.statusCode !== 201 || !createdBody.id) {
        throw new Error(
          `POST /webhooks answered ${created.statusCode}: ${JSON.stringify(createdBody).slice(0, 300)}`,
        );
      }
      const webhookId = createdBody.id;
      const tag = randomBytes(4).toString('hex');
      let seq = 0;
      const allIds: string[] = [];
      const makeEvent = () => {
        const n = seq++;
        const id = `evt_b${tag}_${n}`;
        return {
          id,
          nid: notificationIdFor(webhookId, id),
          body: { type: REFERENCE_EVENT_TYPE, id, data: referenceData(n) },
        };
      };

      /** Open loop: `requests` POSTs of `perRequest` events, spread evenly at `eventsPerSec`, whatever the answers. */
      const runPhase = async (
        eventsPerSec: number,
        totalEvents: number,
        perRequest: number,
        drainMs: number,
        abortOnLag = false,
      ): Promise<PhaseResult> => {
        // Each phase starts with the platform idle: earlier backlog would be charged to it.
        const idleSince = now();
        while (now() - idleSince < 60_000 && allIds.some((id) => !tracker.latency.has(id)))
          await sleep(100);
        const requests = Math.ceil(totalEvents / perRequest);
        const intervalMs = (1000 * perRequest) / eventsPerSec;
        const ids: string[] = [];
        let accepted = 0;
        let rejected = 0;
        let firstError: string | undefined;
        const responseMs: number[] = [];
        const inflight: Promise<void>[] = [];
        const start = now();
        let aborted = false;
        let oldestPending = 0;
        let lastCheck = start;
        for (let r = 0; r < requests; r++) {
          const due = start + r * intervalMs;
          const wait = due - now();
          if (wait > 1) await sleep(wait);
          // Rate phases stop as soon as one event is overdue: the rate is not sustained, and
          // sending on would only pile up backlog for the next phase.
          if (abortOnLag && now() - lastCheck > 250) {
            lastCheck = now();
            while (
              oldestPending < ids.length &&
              tracker.latency.has(required(ids[oldestPending], 'ids[oldestPending]'))
            )
              oldestPending++;
            const oldest = ids[oldestPending];
            if (
              oldest !== undefined &&
              now() - required(tracker.sent.get(oldest), 'tracker.sent.get(oldest)') > LAG_BOUND_MS
            ) {
              aborted = true;
              break;
            }
          }
          const events = Array.from({ length: perRequest }, makeEvent);
          const sentAt = now();
          for (const e of events) {
            tracker.sent.set(e.nid, sentAt);
            ids.push(e.nid);
          }
          const body = JSON.stringify(
            perRequest === 1
              ? required(events[0], 'events[0]').body
              : { events: events.map((e) => e.body) },
          );
          inflight.push(
            api.request({ method: 'POST', path: '/events', headers: auth, body }).then(
              async (res) => {
                const text = await res.body.text();
                responseMs.push(now() - sentAt);
                if (res.statusCode === 202) accepted += perRequest;
                else {
                  rejected += perRequest;
                  firstError ??= `${res.statusCode} ${text.slice(0, 200)}`;
                }
              },
              (err: Error) => {
                rejected += perRequest;
                firstError ??= err.message;
              },
            ),
          );
        }
        const sendSeconds = (now() - start) / 1000;
        await Promise.all(inflight);
        // Drain: wait until everything arrived, or drainMs after the last send.
        const lastSend = now();
        while (now() - lastSend < drainMs && ids.some((id) => !tracker.latency.has(id)))
          await sleep(50);
        const latencies = ids
          .map((id) => tracker.latency.get(id))
          .filter((v): v is number => v !== undefined);
        const lost = ids.length - latencies.length;
        const result = {
          events: ids.length,
          accepted,
          rejected,
          received: latencies.length,
          notYetReceived: lost,
          duplicates: tracker.duplicates,
          maxLagMs: round(latencies.length ? Math.max(...latencies) : Number.NaN),
          p50Ms: round(quantile(latencies, 0.5)),
          p99Ms: round(quantile(latencies, 0.99)),
          achievedRate: round(ids.length / sendSeconds),
          aborted,
          ingestP50Ms: round(quantile(responseMs, 0.5)),
          ...(firstError ? { firstError } : {}),
        };
        allIds.push(...ids);
        return result;
      };

      // Warm-up (definition cache, JIT, connections), then the floor: one event at a time.
      await runPhase(10, 20, 1, 30_000);
      const floor = await runPhase(2, opts.quick ? 10 : 20, 1, 30_000);
      opts.log(`floor at 2 events/s: p50 ${floor.p50Ms} ms, max ${floor.maxLagMs} ms`);

      // Latency at 50 events/s; stragglers are waited for (up to 30 s) so p99 counts them.
      const latencyEvents = opts.quick ? 300 : 1000;
      // Where the CPU goes during the phase, per process (which one is the bottleneck).
      const processes = {
        bench: process.pid,
        platform: platform.pid,
        standInsHostFauxqs: platform.pids.standInsHost,
        dynamoDbLocal: platform.pids.dynamo,
        receiver: receiver.pid,
      };
      const cpuBefore = Object.fromEntries(
        Object.entries(processes).map(([k, pid]) => [k, cpuSecondsOf(pid)]),
      );
      const wallBefore = now();
      const latency = await runPhase(50, latencyEvents, 1, 30_000);
      const wallSeconds = (now() - wallBefore) / 1000;
      const latencyPhaseCpuShare = Object.fromEntries(
        Object.entries(processes).map(([k, pid]) => {
          const before = cpuBefore[k];
          const after = cpuSecondsOf(pid);
          return [
            k,
            before === undefined || after === undefined
              ? null
              : round((after - before) / wallSeconds),
          ];
        }),
      );
      opts.log(
        `CPU (cores) per process during the latency phase: ${JSON.stringify(latencyPhaseCpuShare)}`,
      );
      if (latency.notYetReceived > 0) {
        notes.push(
          `${latency.notYetReceived} of the ${latency.events} latency-phase events had not arrived 30 s after the last send: e2eP50Ms/e2eP99Ms are lower bounds (over the events received).`,
        );
      }
      opts.log(
        `latency at 50/s over ${latency.events} events: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxLagMs} ms, not received ${latency.notYetReceived}`,
      );

      // Reference: bare loopback round trips to the same receiver, same rate.
      const bareTimes: number[] = [];
      const bareCount = opts.quick ? 100 : 250;
      const bareBody = JSON.stringify({ type: REFERENCE_EVENT_TYPE, data: referenceData(1) });
      const bareStart = now();
      const bareInflight: Promise<void>[] = [];
      for (let i = 0; i < bareCount; i++) {
        const wait = bareStart + i * 20 - now();
        if (wait > 1) await sleep(wait);
        const t = now();
        bareInflight.push(
          bare
            .request({
              method: 'POST',
              path: '/bare',
              headers: { 'content-type': 'application/json' },
              body: bareBody,
            })
            .then(async (res) => {
              await res.body.dump();
              bareTimes.push(now() - t);
            }),
        );
      }
      await Promise.all(bareInflight);
      const bareP50 = quantile(bareTimes, 0.5);
      const bareP99 = quantile(bareTimes, 0.99);
      opts.log(
        `bare loopback round trip at 50/s: p50 ${round(bareP50)} ms, p99 ${round(bareP99)} ms`,
      );

      // Highest sustained rate: probes stepping up, then a 30 s confirmation.
      const probeSeconds = opts.quick ? 3 : 6;
      const confirmSeconds = opts.quick ? 10 : 30;
      const probes: Array<{ rate: number } & PhaseResult> = [];
      const sustained = (r: PhaseResult) =>
        !r.aborted && r.notYetReceived === 0 && r.rejected === 0 && r.maxLagMs <= LAG_BOUND_MS;
      let best = 0;
      for (let rate = 20; rate <= 5000; rate = Math.round(rate * 1.5)) {
        const r = await runPhase(rate, rate * probeSeconds, BATCH, LAG_BOUND_MS + 1000, true);
        probes.push({ rate, ...r });
        opts.log(
          `probe ${rate} events/s for ${probeSeconds} s: ${sustained(r) ? 'ok' : 'NOT sustained'} (late ${r.notYetReceived}, rejected ${r.rejected}, max lag ${r.maxLagMs} ms, p99 ${r.p99Ms} ms)`,
        );
        if (!sustained(r)) break;
        best = rate;
      }
      const confirmations: Array<{ rate: number } & PhaseResult> = [];
      let maxRate = 0;
      for (const candidate of [best, Math.round(best * 0.67), Math.round(best * 0.45)]) {
        if (candidate <= 0) break;
        const r = await runPhase(
          candidate,
          candidate * confirmSeconds,
          BATCH,
          LAG_BOUND_MS + 1000,
          true,
        );
        confirmations.push({ rate: candidate, ...r });
        opts.log(
          `confirm ${candidate} events/s for ${confirmSeconds} s: ${sustained(r) ? 'sustained' : 'NOT sustained'} (late ${r.notYetReceived}, max lag ${r.maxLagMs} ms, p99 ${r.p99Ms} ms)`,
        );
        if (sustained(r)) {
          maxRate = candidate;
          break;
        }
      }
      // Losses: events accepted but never received, after a last wait for stragglers.
      const finalWait = now();
      while (now() - finalWait < 30_000 && allIds.some((id) => !tracker.latency.has(id)))
        await sleep(100);
      const lost = allIds.filter((id) => !tracker.latency.has(id)).length;
      opts.log(
        `events sent ${allIds.length}, never received ${lost}, duplicates ${tracker.duplicates}`,
      );
      if (tracker.unknown > 0)
        notes.push(`${tracker.unknown} receipts matched no event sent by this run`);
      notes.push(
        `Local mode runs everything on this ${os.availableParallelism()}-core machine (API, handlers, DynamoDB Local, fauxqs, the receiver and the producer): the rate says what local mode sustains, not what AWS does.`,
      );
      const p99Met = latency.p99Ms <= GOAL_P99_MS;
      const rows: Row[] = [
        {
          label: 'Local e2e p50, POST /events to receipt (50/s)',
          key: 'e2eP50Ms',
          value: latency.p50Ms,
          unit: 'ms',
          reference: `bare loopback round trip p50 ${round(bareP50)} ms (x${round(latency.p50Ms / bareP50)})`,
        },
        {
          label: 'Local e2e p99, POST /events to receipt (50/s)',
          key: 'e2eP99Ms',
          value: latency.p99Ms,
          unit: 'ms',
          reference: `bare loopback round trip p99 ${round(bareP99)} ms (x${round(latency.p99Ms / bareP99)})`,
          goal: `<= ${GOAL_P99_MS}`,
          met: p99Met,
        },
        {
          label: `Local max sustained rate (${confirmSeconds} s, none lost)`,
          key: 'e2eMaxEventsPerSec',
          value: maxRate,
          unit: 'events/s',
          reference: `lag bound ${LAG_BOUND_MS} ms; batches of ${BATCH}; last probe ${probes.at(-1)?.rate ?? 0}/s`,
        },
      ];
      return {
        figures: {
          e2eP50Ms: latency.p50Ms,
          e2eP99Ms: latency.p99Ms,
          e2eMaxEventsPerSec: maxRate,
          e2eLostEvents: lost,
          // Ingest response times: the cost model's ingest Lambda duration (single event at 2/s; batch of 10 at the first probe rate).
          e2eIngestP50Ms: floor.ingestP50Ms,
          e2eIngestBatchP50Ms: probes[0]?.ingestP50Ms ?? Number.NaN,
          e2eBareRoundTripP50Ms: round(bareP50),
          e2eBareRoundTripP99Ms: round(bareP99),
        },
        rows,
        details: {
          platformOptions: extraPlatformOptions(),
          floorPhase: floor,
          latencyPhase: latency,
          latencyPhaseCpuCores: latencyPhaseCpuShare,
          eventsSent: allIds.length,
          lost,
          duplicates: tracker.duplicates,
          bareRoundTrip: {
            count: bareTimes.length,
            p50Ms: round(bareP50),
            p99Ms: round(bareP99),
            medianMs: round(median(bareTimes)),
          },
          probes,
          probeSeconds,
          confirmations,
          confirmSeconds,
          lagBoundMs: LAG_BOUND_MS,
          eventsPerRequestForRate: BATCH,
        },
        notes,
      };
    } finally {
      await api.close();
      await bare.close();
      await platform.stop();
      await receiver.stop();
      rmSync(dataDir, { recursive: true, force: true });
      if (profileDir) {
        for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
          const full = path.join(profileDir, file);
          const summary = summarise(JSON.parse(readFileSync(full, 'utf8')), full);
          opts.log(
            `profile of the local platform process (${summary.totalMs} ms sampled, ${full}):`,
          );
          opts.log(
            `  by area: ${Object.entries(summary.byArea)
              .map(([k, v]) => `${k} ${v}%`)
              .join(', ')}`,
          );
          for (const f of summary.topFunctions.slice(0, 15))
            opts.log(`  ${String(f.selfPct).padStart(5)}%  ${f.where}`);
        }
      }
    }
  },
};
