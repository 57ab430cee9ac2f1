/**
 * A destination outage in the middle of the 20,000-event load, in local mode through the HTTP
 * API (the platform in its own process, DATA_DIR in a temp dir):
 *
 * - one receiver of 50 takes every 10th event (2,000 notifications) and answers 503 from the
 *   start of the load until half of everyone else's notifications were delivered and half of
 *   its own (1,000) wait behind its open circuit; then it answers 200 again;
 * - figures: requests the dead receiver got while down, executions started for its webhook
 *   (retry series and health drivers, from the local Step Functions journal), what waited, and
 *   after recovery: notifications lost (asserted zero), duplicates (asserted bounded), and
 *   whether the other 49 webhooks noticed (each of their notifications sent in one attempt).
 *
 * No clock is asserted on: the phases follow counts (deliveries, health state), deadlines only
 * guard against a hang.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { notificationIdFor } from '../../lambdas/core/ids';
import { healthExecutionName, retryExecutionPrefix } from '../../lambdas/core/retry-contract';
import { LOCAL_DEFAULTS } from '../../local/platform';
import { type Receiver, startReceiver } from '../support/receivers';
import { executionsStarted } from '../support/sfn-journal';
import { type ApiClient, apiClient, mapBounded } from './support/api-client';
import { recordFigures } from './support/figures';
import {
  killEverythingStarted,
  type PlatformProcess,
  startPlatformProcess,
} from './support/platform-process';

const EVENTS = Number(process.env.RELIABILITY_LOAD_EVENTS ?? 20_000);
const WEBHOOKS = 50;
/** Every OUTAGE_EVERY-th event goes to the receiver that goes down. */
const OUTAGE_EVERY = 10;
const BATCH = 100;
/** Messages one ReceiveMessage (and so one delivery batch) takes at most. */
const SQS_MAX_BATCH = 10;
/**
 * The receiver comes back once this share of the other webhooks' notifications was delivered
 * and this share of its own waits behind its open circuit.
 */
const RECOVER_AT = 0.5;
/** Posting keeps at most this many accepted-but-undelivered events ahead of the receivers. */
const MAX_BACKLOG = 3000;
const SETTLE_TIMEOUT_MS = Number(process.env.RELIABILITY_SETTLE_TIMEOUT_MS ?? 600_000);
const TOKEN = `rel-outage-${Date.now().toString(36)}`;
/** Cool-down 30 s x 0.01 = 0.3 s, doubling up to 18 s; retries 0.6 s, 3 s, 15 s, ... */
const ENV = {
  RETRY_TIME_SCALE: '0.01',
  DEFINITION_CACHE_TTL_SECONDS: '1',
  POWERTOOLS_LOG_LEVEL: 'WARN',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Hook {
  readonly index: number;
  id: string;
  readonly type: string;
  readonly receiver: Receiver;
}

function dataRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

describe('a destination outage during the 20,000-event load', () => {
  let dir: string;
  let dataDir: string;
  let platform: PlatformProcess | undefined;
  let api: ApiClient;
  const hooks: Hook[] = [];
  /** Per notification id (webhook-id header): requests seen, and whether a 2xx was answered. */
  const requests = new Map<string, number>();
  const succeeded = new Set<string>();
  /** The outage receiver's state and its requests while down. */
  let down = true;
  let requestsWhileDown = 0;
  const figures: Record<string, unknown> = {
    events: EVENTS,
    webhooks: WEBHOOKS,
    retryTimeScale: Number(ENV.RETRY_TIME_SCALE),
  };

  const outageHook = () => hooks[0]!;
  const hookOf = (n: number) =>
    n % OUTAGE_EVERY === 0 ? outageHook() : hooks[1 + (n % (WEBHOOKS - 1))]!;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(dataRoot(), 'rel-outage-'));
    dataDir = path.join(dir, 'data');
    for (let i = 0; i < WEBHOOKS; i++) {
      const outage = i === 0;
      const receiver = await startReceiver((req) => {
        const id = String(req.headers['webhook-id']);
        requests.set(id, (requests.get(id) ?? 0) + 1);
        if (outage && down) {
          requestsWhileDown += 1;
          return { status: 503, body: 'down' };
        }
        succeeded.add(id);
        return { status: 200, body: 'ok' };
      });
      // The tally above is what the test needs, not every request.
      const kept = receiver.requests;
      const trim = setInterval(() => kept.splice(0, kept.length), 1000);
      trim.unref();
      hooks.push({ index: i, id: '', type: `OUTAGE_EVENT_${i}`, receiver });
    }
    platform = await startPlatformProcess({ dataDir, logDir: dir, token: TOKEN, env: ENV });
    api = apiClient(platform.url, TOKEN, { keepResponses: false });
  }, 180_000);

  afterAll(async () => {
    await platform?.stop().catch(() => undefined);
    figures.processesKilledInCleanup = (await killEverythingStarted()).length;
    await Promise.all(hooks.map((h) => h.receiver.close()));
    recordFigures('outage', figures);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('bounds requests and executions by destination while one receiver is down, loses nothing, and keeps the others unaffected', async () => {
    for (const hook of hooks) {
      const res = await api.request('POST', '/webhooks', {
        name: `outage ${hook.index}`,
        events: [hook.type],
        url: `${hook.receiver.url}/hook/${hook.index}?loan={{ data.loanId }}`,
        body: '{"n": {{ data.n }}, "loan": {{ data.loanId | json }}}',
      });
      expect(res.status).toBe(201);
      hook.id = res.body.id;
    }
    const batches: { type: string; id: string; data: Record<string, unknown> }[][] = [];
    const expected = new Map<string, Hook>();
    for (let b = 0; b < Math.ceil(EVENTS / BATCH); b++) {
      const events = [];
      for (let k = 0; k < BATCH && b * BATCH + k < EVENTS; k++) {
        const n = b * BATCH + k;
        const hook = hookOf(n);
        events.push({ type: hook.type, id: `evt-outage-${n}`, data: { n, loanId: `L-${n}` } });
        expected.set(notificationIdFor(hook.id, `evt-outage-${n}`), hook);
      }
      batches.push(events);
    }
    const outageIds = [...expected].filter(([, h]) => h === outageHook()).map(([id]) => id);
    const otherIds = [...expected].filter(([, h]) => h !== outageHook()).map(([id]) => id);
    // Executions that belong to the outage webhook: its notifications' retries (one execution
    // each) and its health drivers.
    const retryPrefixes = new Set(outageIds.map((id) => retryExecutionPrefix(id)));
    const driverPrefix = healthExecutionName(outageHook().id, 0).replace(/0$/, '');
    const executionsOfOutage = () => {
      const names = executionsStarted(dataDir);
      const retries = names.filter((n) => retryPrefixes.has(n.replace(/\d+-\d+$/, '')));
      const drivers = names.filter((n) => n.startsWith(driverPrefix));
      return { retries: retries.length, drivers: drivers.length, all: names.length };
    };
    const health = async () => {
      const res = await api.request('GET', `/webhooks/${outageHook().id}/health`);
      expect(res.status).toBe(200);
      return res.body as { state: string; waiting: number; consecutiveFailures: number };
    };
    // Ingest caches definitions for DEFINITION_CACHE_TTL_SECONDS: let it see all of them.
    await sleep(1500);

    // Load: batches of 100, at most MAX_BACKLOG accepted and not yet delivered (the outage
    // receiver's notifications do not count: they wait behind the circuit, not in the queue).
    const t0 = performance.now();
    let accepted = 0;
    const deliveredOthers = () =>
      otherIds.length - otherIds.filter((id) => !succeeded.has(id)).length;
    const posting = (async () => {
      for (const events of batches) {
        while (accepted - Math.floor(accepted / OUTAGE_EVERY) - deliveredOthers() > MAX_BACKLOG)
          await sleep(50);
        const res = await api.request('POST', '/events', { events });
        expect(res.status).toBe(202);
        accepted += events.length;
      }
    })();

    // Down until half of everyone else's notifications arrived and half of its own wait behind
    // its open circuit.
    const deadline = performance.now() + SETTLE_TIMEOUT_MS;
    let before: { state: string; waiting: number; consecutiveFailures: number } | undefined;
    while (performance.now() < deadline) {
      if (deliveredOthers() >= otherIds.length * RECOVER_AT) {
        const h = await health();
        if (h.state === 'OPEN' && h.waiting >= outageIds.length * RECOVER_AT) {
          before = h;
          break;
        }
      }
      await sleep(200);
    }
    expect(before).toBeDefined();
    const whileDown = executionsOfOutage();
    const downFigures = {
      requestsToTheDeadReceiver: requestsWhileDown,
      notificationsForItAccepted: Math.min(outageIds.length, Math.ceil(accepted / OUTAGE_EVERY)),
      executionsStartedForIt: whileDown.retries + whileDown.drivers,
      retrySeriesStarted: whileDown.retries,
      healthDriversStarted: whileDown.drivers,
      executionsStartedForAllWebhooks: whileDown.all,
      waitingWhenItCameBack: before!.waiting,
      circuitWhenItCameBack: before!.state,
      downForMs: Math.round(performance.now() - t0),
    };
    figures.whileDown = downFigures;
    down = false;

    await posting;
    while (succeeded.size < expected.size && performance.now() < deadline) await sleep(100);
    figures.allDeliveredAfterMs = Math.round(performance.now() - t0);
    const missing = [...expected.keys()].filter((id) => !succeeded.has(id));
    expect(missing.slice(0, 20)).toEqual([]);

    // The history: every notification SENT; attempts as the receivers saw them.
    type Summary = { id: string; status: string; attemptCount: number };
    const history = new Map<string, Summary>();
    for (let tries = 0; ; tries++) {
      history.clear();
      await mapBounded(hooks, 4, async (hook) => {
        let cursor: string | null = null;
        do {
          const q: string = `/notifications?webhookId=${hook.id}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const res = await api.request('GET', q);
          expect(res.status).toBe(200);
          for (const item of res.body.items as Summary[]) history.set(item.id, item);
          cursor = res.body.nextCursor;
        } while (cursor);
      });
      const pending = [...history.values()].filter((s) => s.status !== 'SENT').length;
      if ((history.size === expected.size && pending === 0) || tries >= 30) break;
      await sleep(1000);
    }
    const lost = [...expected.keys()].filter((id) => history.get(id)?.status !== 'SENT');

    // Recorded twice: a notification of the outage webhook with more than one SENT attempt.
    let recordedTwice = 0;
    await mapBounded(outageIds, 8, async (id) => {
      const res = await api.request('GET', `/notifications/${id}`);
      expect(res.status).toBe(200);
      const sent = (res.body.attempts as { outcome: string }[]).filter((a) => a.outcome === 'SENT');
      if (sent.length !== 1) recordedTwice += 1;
    });
    // Duplicates: requests a receiver got beyond the attempts the history recorded.
    let duplicateSends = 0;
    let notificationsWithDuplicates = 0;
    const wrongCounts: string[] = [];
    for (const [id] of expected) {
      const recorded = history.get(id)?.attemptCount ?? 0;
      const seen = requests.get(id) ?? 0;
      if (seen < recorded) wrongCounts.push(`${id}: ${recorded} recorded, ${seen} seen`);
      if (seen > recorded) {
        duplicateSends += seen - recorded;
        notificationsWithDuplicates += 1;
      }
    }
    const othersRetried = otherIds.filter((id) => (history.get(id)?.attemptCount ?? 0) !== 1);
    const total = executionsOfOutage();
    const outageRequests = outageIds.reduce((a, id) => a + (requests.get(id) ?? 0), 0);
    const after = await health();
    // What can be in flight at once in local mode: every poller's batch.
    const duplicateBound = LOCAL_DEFAULTS.pollers * SQS_MAX_BATCH;
    figures.afterRecovery = {
      requestsToTheRecoveredReceiver: outageRequests - requestsWhileDown,
      notificationsForItSent: outageIds.filter((id) => history.get(id)?.status === 'SENT').length,
      executionsStartedForItInAll: total.retries + total.drivers,
      healthDriversStartedInAll: total.drivers,
      circuitAtTheEnd: after.state,
      waitingAtTheEnd: after.waiting,
    };
    figures.notifications = expected.size;
    figures.notificationsForTheOutageReceiver = outageIds.length;
    figures.notificationsLost = lost.length;
    figures.recordedTwice = recordedTwice;
    figures.duplicateSends = duplicateSends;
    figures.notificationsWithDuplicates = notificationsWithDuplicates;
    figures.duplicateSendsBound = duplicateBound;
    figures.otherWebhooksNotificationsNotSentAtFirstAttempt = othersRetried.length;

    expect(lost.slice(0, 20)).toEqual([]);
    expect(history.size).toBe(expected.size);
    expect(wrongCounts.slice(0, 20)).toEqual([]);
    expect(recordedTwice).toBe(0);
    expect(duplicateSends).toBeLessThanOrEqual(duplicateBound);
    expect(othersRetried.slice(0, 20)).toEqual([]);
    expect(after.state).toBe('CLOSED');
    expect(after.waiting).toBe(0);
    // Bounded by destination, not by the (at least 1,000) notifications that waited for it.
    expect(downFigures.requestsToTheDeadReceiver).toBeLessThan(
      downFigures.waitingWhenItCameBack / 10,
    );
    expect(downFigures.executionsStartedForIt).toBeLessThan(downFigures.waitingWhenItCameBack / 50);
  }, 1_800_000);
});
