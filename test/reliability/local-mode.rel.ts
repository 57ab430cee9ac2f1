/**
 * Local mode as an operator runs it (`node -r ./local/register.js local/main.ts`, DATA_DIR in a
 * temp dir), under load, killed with SIGKILL in the middle of it, and started again:
 *
 * - auth: every route but /health refuses a missing or wrong token with 401;
 * - no loss: N events over W webhooks (batches of 100), 10 % of the receivers failing the first
 *   two attempts of every notification, back-off scaled down; every accepted event (202) ends
 *   SENT with the right attempt count; receivers' counts match the history exactly, except
 *   duplicates (at-least-once across the crash), which are counted and carry one webhook-id;
 * - crash: the platform's children (stand-ins host, DynamoDB Local's JVM) die with it;
 * - secrets: none in the platform's logs, the history (API and tables scanned directly), API
 *   responses, or the queue and execution journals (as the crash left them and at the end):
 *   neither the secrets given to it nor the keys it makes itself (signing secrets and ed25519
 *   private keys made by rotations, kept signing through a grace period, ed25519 private keys of
 *   some webhooks, the keys of the subjects some events are about).
 */
import {
  accessSync,
  constants,
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { DEFAULT_HEALTH_SETTINGS } from '../../lambdas/core/health/model';
import { notificationIdFor } from '../../lambdas/core/ids';
import { FAILED_JOB_LOG_MESSAGE } from '../../lambdas/handlers/delivery';
import { LOCAL_DEFAULTS } from '../../local/platform';
import { standInCipher, startStandIns } from '../../local/standins';
import { type Receiver, startReceiver } from '../support/receivers';
import { type ApiClient, apiClient, mapBounded } from './support/api-client';
import { recordFigures } from './support/figures';
import {
  killEverythingStarted,
  type PlatformProcess,
  startPlatformProcess,
} from './support/platform-process';
import { isAlive, waitGone } from './support/processes';
import {
  cursorVerifies,
  type Finding,
  filesUnder,
  type Haystack,
  needlesOf,
  newSecrets,
  payloadDictionaries,
  platformKeyNeedles,
  platformKeys,
  publicKeyOf,
  type SecretSet,
  scannedItemsText,
  searchFiles,
  searchTexts,
} from './support/secrets';

const EVENTS = Number(process.env.RELIABILITY_LOAD_EVENTS ?? 20_000);
const WEBHOOKS = Number(process.env.RELIABILITY_LOAD_WEBHOOKS ?? 50);
const FAILING_EVERY = 10; // every 10th receiver fails the first two attempts: 10 %
/** Every 5th webhook signs with an ed25519 key pair the platform makes (the others with a given whsec_). */
const ED25519_EVERY = 5;
/** Every 4th event is about a subject (one of SUBJECTS): its stored request is sealed with the subject's key. */
const SUBJECT_EVERY = 4;
/** Webhooks i % 10 === 3 (whsec_) and 6 (ed25519) are rotated before the load: both keys sign throughout. */
const ROTATED = (i: number) => i % 10 === 3 || i % 10 === 6;
const SUBJECTS = 23;
const BATCH = 100;
/** Messages one ReceiveMessage (and so one delivery batch) takes at most. */
const SQS_MAX_BATCH = 10;
const TOKEN = `rel-${Date.now().toString(36)}-token`;
/** Crash once this share of all events has been delivered (deliveries and posting still under way). */
const CRASH_AT = 0.25;
/** Posting keeps at most this many accepted-but-undelivered events ahead of the receivers. */
const MAX_BACKLOG = 3000;
const SETTLE_TIMEOUT_MS = Number(process.env.RELIABILITY_SETTLE_TIMEOUT_MS ?? 600_000);
const ENV = {
  RETRY_TIME_SCALE: '0.001',
  DEFINITION_CACHE_TTL_SECONDS: '1',
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

interface Hook {
  readonly index: number;
  readonly id: string;
  readonly type: string;
  readonly failing: boolean;
  readonly ed25519: boolean;
  /** `whpk_...` as the API showed them (ed25519 webhooks): the current key first, then one replaced by a rotation. */
  readonly publicKeys: string[];
  /** The `whsec_` secret a rotation made (shown once, in the rotation's answer). */
  readonly rotatedSecret?: string;
  readonly secrets: SecretSet;
  readonly receiver: Receiver;
}

/** Per notification id (webhook-id header): requests seen and whether a 2xx was answered. */
interface Tally {
  readonly requests: Map<string, number>;
  readonly bodies: Map<string, Set<string>>;
  readonly succeeded: Set<string>;
}

/**
 * Where DATA_DIR goes: RAM-backed /dev/shm when there is one. DynamoDB Local's SQLite syncs
 * every write; on this machine's disk that caps it near 70 writes/s, on tmpfs near 300. A
 * SIGKILL loses nothing either way: written data sits in the page cache, which outlives the
 * process (a power cut is another matter, and not what this suite simulates).
 */
function dataRoot(): string {
  const wanted = process.env.RELIABILITY_DATA_ROOT ?? '/dev/shm';
  try {
    accessSync(wanted, constants.W_OK);
    return wanted;
  } catch {
    return tmpdir();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('local mode: load, SIGKILL and restart, auth, secrets', () => {
  let dir: string;
  let dataDir: string;
  let platform: PlatformProcess | undefined;
  const platforms: PlatformProcess[] = [];
  const hooks: Hook[] = [];
  const tally: Tally = { requests: new Map(), bodies: new Map(), succeeded: new Set() };
  const clients: ApiClient[] = [];
  const figures: Record<string, unknown> = {
    events: EVENTS,
    webhooks: WEBHOOKS,
    failingReceivers: Math.ceil(WEBHOOKS / FAILING_EVERY),
  };
  /** Batches: index -> accepted (202 seen). */
  const accepted = new Set<number>();
  const batches: {
    type: string;
    id: string;
    data: Record<string, unknown>;
    subject?: string;
  }[][] = [];
  /** Expected notification id -> its hook. */
  const expected = new Map<string, Hook>();
  /** The state files (journals) as the crash left them, before a restart compacts them. */
  let atCrashDir: string;
  /** What the graceful stop of the second run left: nothing may be alive, nothing was killed. */
  let graceful: { exitedBy: string; leftAlive: number[] } | undefined;
  /** Per hook, the headers of one request its receiver got (the secrets scan's positive control). */
  const receivedHeaders = new Map<number, string>();

  const start = async (): Promise<PlatformProcess> => {
    const p = await startPlatformProcess({ dataDir, logDir: dir, token: TOKEN, env: ENV });
    platforms.push(p);
    platform = p;
    const client = apiClient(p.url, TOKEN);
    clients.push(client);
    return p;
  };
  const api = () => clients[clients.length - 1]!;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(dataRoot(), 'rel-local-'));
    dataDir = path.join(dir, 'data');
    for (let i = 0; i < WEBHOOKS; i++) {
      const failing = i % FAILING_EVERY === 0;
      const receiver = await startReceiver((req) => {
        const id = String(req.headers['webhook-id']);
        const n = (tally.requests.get(id) ?? 0) + 1;
        tally.requests.set(id, n);
        if (!receivedHeaders.has(i)) receivedHeaders.set(i, JSON.stringify(req.headers));
        const bodies = tally.bodies.get(id) ?? new Set();
        bodies.add(req.body);
        tally.bodies.set(id, bodies);
        if (failing && n <= 2) return { status: 503, body: 'not yet' };
        tally.succeeded.add(id);
        return { status: 200, body: 'ok' };
      });
      // Only what the test needs is kept: the tally above, not every request.
      const requests = receiver.requests;
      const trim = setInterval(() => requests.splice(0, requests.length), 1000);
      trim.unref();
      hooks.push({
        index: i,
        id: '',
        type: `REL_EVENT_${i}`,
        failing,
        ed25519: i % ED25519_EVERY === 1,
        publicKeys: [],
        secrets: newSecrets(`wh${i}`),
        receiver,
      });
    }
    for (let b = 0; b < Math.ceil(EVENTS / BATCH); b++) {
      const events = [];
      for (let k = 0; k < BATCH && b * BATCH + k < EVENTS; k++) {
        const n = b * BATCH + k;
        events.push({
          type: hooks[n % WEBHOOKS]!.type,
          id: `evt-rel-${n}`,
          data: { n, loanId: `L-${n}` },
          ...(n % SUBJECT_EVERY === 0 ? { subject: `client-${n % SUBJECTS}` } : {}),
        });
      }
      batches.push(events);
    }
  }, 60_000);

  afterAll(async () => {
    for (const p of platforms) await p.stop().catch(() => undefined);
    const leftovers = await killEverythingStarted();
    figures.processesKilledInCleanup = leftovers.length;
    await Promise.all(hooks.map((h) => h.receiver.close()));
    recordFigures('localMode', figures);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('starts as a child process and learns the processes it started (stand-ins host, DynamoDB Local)', async () => {
    const t0 = performance.now();
    const p = await start();
    figures.firstStartMs = Math.round(performance.now() - t0);
    const health = await fetch(`${p.url}/health`);
    expect(health.status).toBe(200);
    expect(p.children.some((c) => /DynamoDBLocal\.jar/.test(c.command))).toBe(true);
    expect(p.children.some((c) => /fauxqs/.test(c.command))).toBe(true);
  }, 180_000);

  it('every route but /health refuses a missing or wrong token with 401, and does nothing', async () => {
    const p = platform!;
    const routes: [string, string][] = [
      ['POST', '/events'],
      ['GET', '/webhooks'],
      ['POST', '/webhooks'],
      ['GET', '/webhooks/wh_x'],
      ['PUT', '/webhooks/wh_x'],
      ['DELETE', '/webhooks/wh_x'],
      ['POST', '/webhooks/wh_x/preview'],
      ['GET', '/notifications'],
      ['GET', '/notifications/ntf_x'],
      ['POST', '/notifications/ntf_x/resend'],
      ['POST', '/notifications/resend'],
      ['GET', '/notifications/resend/job_x'],
      ['GET', '/sender-ips'],
      ['GET', '/no-such-route'],
    ];
    const credentials: (string | undefined)[] = [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN.toUpperCase()}`,
      `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`,
      TOKEN,
      `Token ${TOKEN}`,
      `Bearer ${TOKEN} ${TOKEN}`,
    ];
    const body = JSON.stringify({
      type: 'REL_EVENT_0',
      data: {},
      name: 'x',
      events: ['*'],
      url: 'http://127.0.0.1:9/x',
      ids: ['ntf_x'],
    });
    const wrong: string[] = [];
    let tried = 0;
    for (const [method, route] of routes) {
      for (const auth of credentials) {
        const res = await fetch(`${p.url}${route}`, {
          method,
          headers: {
            'content-type': 'application/json',
            ...(auth === undefined ? {} : { authorization: auth }),
          },
          ...(method === 'GET' ? {} : { body }),
        });
        tried += 1;
        const json = (await res.json().catch(() => undefined)) as
          | { error?: { code?: string } }
          | undefined;
        if (res.status !== 401 || json?.error?.code !== 'UNAUTHORIZED')
          wrong.push(`${method} ${route} with ${auth ?? '(none)'}: ${res.status}`);
      }
    }
    const health = await fetch(`${p.url}/health`);
    // With the right token the same listing works, and shows that nothing was created above.
    const list = await api().request('GET', '/webhooks');
    figures.auth = { requestsTried: tried, refused: tried - wrong.length, routes: routes.length };
    expect(wrong).toEqual([]);
    expect(health.status).toBe(200);
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]);
  });

  it(`accepts events (batches of ${BATCH}) and is SIGKILLed mid-delivery; its stand-ins host and JVM die with it`, async () => {
    for (const hook of hooks) {
      const res = await api().request('POST', '/webhooks', {
        name: `reliability ${hook.index}`,
        events: [hook.type],
        url: `${hook.receiver.url}/hook/${hook.index}?loan={{ data.loanId }}`,
        body: '{"n": {{ data.n }}, "loan": {{ data.loanId | json }}}',
        auth: { type: 'basic', username: hook.secrets.username, password: hook.secrets.password },
        ...(hook.ed25519
          ? { signing: { scheme: 'ed25519' } }
          : { signingSecret: hook.secrets.signingSecret }),
      });
      expect(res.status).toBe(201);
      (hook as { id: string }).id = res.body.id;
      if (hook.ed25519) {
        expect(res.body.publicKey).toMatch(/^whpk_/);
        hook.publicKeys.push(res.body.publicKey);
      }
      if (ROTATED(hook.index)) {
        // The answer shows the new key once, as it should: this call's response is not searched.
        const rotated = await apiClient(api().url, TOKEN, { keepResponses: false }).request(
          'POST',
          `/webhooks/${hook.id}/signing-secrets/rotate`,
          { graceHours: 24 },
        );
        expect(rotated.status).toBe(200);
        if (hook.ed25519) hook.publicKeys.unshift(rotated.body.publicKey);
        else (hook as { rotatedSecret?: string }).rotatedSecret = rotated.body.secret;
      }
    }
    for (const events of batches) {
      for (const e of events)
        expected.set(
          notificationIdFor(hooks[(e.data.n as number) % WEBHOOKS]!.id, e.id),
          hooks[(e.data.n as number) % WEBHOOKS]!,
        );
    }
    // Ingest caches definitions for DEFINITION_CACHE_TTL_SECONDS: let it see all of them.
    await sleep(1500);

    const p = platform!;
    const t0 = performance.now();
    let crashed = false;
    let inFlightAtCrash = 0;
    let postFailures = 0;
    const crashAt = Math.floor(EVENTS * CRASH_AT);
    // Posting runs on until the crash: some POSTs are in flight when it comes.
    const posting = (async () => {
      for (let b = 0; b < batches.length && !crashed; b++) {
        while (!crashed && accepted.size * BATCH - tally.succeeded.size > MAX_BACKLOG)
          await sleep(50);
        if (crashed) return;
        try {
          const res = await api().request('POST', '/events', { events: batches[b] });
          if (res.status === 202) accepted.add(b);
          else postFailures += 1;
        } catch {
          postFailures += 1;
        }
      }
    })();
    while (tally.succeeded.size < crashAt && performance.now() - t0 < SETTLE_TIMEOUT_MS)
      await sleep(25);
    inFlightAtCrash = accepted.size * BATCH - tally.succeeded.size;
    crashed = true;
    p.crash();
    const crashMs = performance.now() - t0;
    await posting;
    const how = await p.exited;
    const children = p.children.map((c) => c.pid);
    const t1 = performance.now();
    const alive = await waitGone(children, 30_000);
    // The queue as the crash left it: every accepted, unacknowledged message is in the SQS journal.
    const journal = readFileSync(path.join(dataDir, 'sqs-journal.jsonl'), 'utf8');
    const queuedMessagesInJournal = (journal.match(/"t":"send"/g) ?? []).length;
    // Kept for the secrets scan (the keys the platform made are only known at the end).
    atCrashDir = path.join(dir, 'at-crash');
    cpSync(dataDir, atCrashDir, {
      recursive: true,
      filter: (f) => !f.includes(`${path.sep}dynamodb`),
    });
    figures.crash = {
      queuedMessagesInJournal,
      afterMs: Math.round(crashMs),
      deliveredBeforeCrash: tally.succeeded.size,
      acceptedBeforeCrash: accepted.size * BATCH,
      acceptedNotDeliveredAtCrash: inFlightAtCrash,
      postsFailedByCrash: postFailures,
      exitedBy: how,
      childrenGoneAfterMs: Math.round(performance.now() - t1),
      childrenStillAliveAfter30s: alive.length,
      ingestRatePerSecond: Math.round((accepted.size * BATCH) / (crashMs / 1000)),
    };
    expect(how).toBe('SIGKILL');
    expect(alive).toEqual([]);
    expect(children.filter(isAlive)).toEqual([]);
    expect(inFlightAtCrash).toBeGreaterThan(0);
    expect(queuedMessagesInJournal).toBeGreaterThan(0);
  }, 900_000);

  it('restarted on the same DATA_DIR it delivers every accepted event: all SENT, right attempt counts, receivers match the history', async () => {
    const t0 = performance.now();
    const p = await start();
    const restartMs = performance.now() - t0;
    const resumed =
      /Resumed:\s+(\d+) queued deliveries, (\d+) retry executions, (\d+) health drivers/.exec(
        readFileSync(p.stdoutFile, 'utf8'),
      );
    await sleep(1500);

    // Everything not acknowledged with a 202 is posted (again): producer ids make a repeat harmless.
    const rest = batches.map((_, b) => b).filter((b) => !accepted.has(b));
    const t1 = performance.now();
    await mapBounded(rest, 4, async (b) => {
      const res = await api().request('POST', '/events', { events: batches[b] });
      expect(res.status).toBe(202);
      accepted.add(b);
    });
    const postMs = performance.now() - t1;
    expect(accepted.size).toBe(batches.length);

    // Every notification gets a 2xx from its receiver.
    const deadline = performance.now() + SETTLE_TIMEOUT_MS;
    while (tally.succeeded.size < expected.size && performance.now() < deadline) await sleep(100);
    const deliveredMs = performance.now() - t1;
    const missing = [...expected.keys()].filter((id) => !tally.succeeded.has(id));
    expect(missing.slice(0, 20)).toEqual([]);
    expect([...tally.succeeded].filter((id) => !expected.has(id))).toEqual([]);

    // The history agrees: every notification SENT, attempt counts as the receivers saw them.
    type Summary = { id: string; status: string; attemptCount: number };
    const history = new Map<string, Summary>();
    const readHistory = async () => {
      history.clear();
      await mapBounded(hooks, 4, async (hook) => {
        let cursor: string | null = null;
        do {
          const q: string = `/notifications?webhookId=${hook.id}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const res = await api().request('GET', q);
          expect(res.status).toBe(200);
          for (const item of res.body.items as Summary[]) history.set(item.id, item);
          cursor = res.body.nextCursor;
        } while (cursor);
      });
    };
    const t2 = performance.now();
    for (let tries = 0; ; tries++) {
      await readHistory();
      const pending = [...history.values()].filter((s) => s.status !== 'SENT').length;
      if ((history.size === expected.size && pending === 0) || tries >= 20) break;
      await sleep(1000);
    }
    const historyReadMs = performance.now() - t2;

    const wrong: string[] = [];
    let duplicates = 0;
    let notificationsWithDuplicates = 0;
    let duplicatesWithOtherBody = 0;
    let exact = 0;
    for (const [id, hook] of expected) {
      const h = history.get(id);
      const seen = tally.requests.get(id) ?? 0;
      if (!h) {
        wrong.push(`${id}: not in the history`);
        continue;
      }
      if (h.status !== 'SENT') wrong.push(`${id}: ${h.status}`);
      const extra = seen - h.attemptCount;
      if (extra < 0)
        wrong.push(`${id}: history has ${h.attemptCount} attempts, the receiver saw ${seen}`);
      if (extra === 0) {
        exact += 1;
        // Without a duplicate the count is exactly the receiver's script: 1, or 3 for failing ones.
        if (h.attemptCount !== (hook.failing ? 3 : 1))
          wrong.push(`${id}: ${h.attemptCount} attempts, expected ${hook.failing ? 3 : 1}`);
      } else if (extra > 0) {
        duplicates += extra;
        notificationsWithDuplicates += 1;
        // A duplicate is the same stored request (same webhook-id, same body).
        if ((tally.bodies.get(id)?.size ?? 0) !== 1) duplicatesWithOtherBody += 1;
      }
    }
    const sends = [...tally.requests.values()].reduce((a, b) => a + b, 0);
    figures.load = {
      restartMs: Math.round(restartMs),
      resumedQueuedDeliveries: resumed ? Number(resumed[1]) : 0,
      resumedRetryExecutions: resumed ? Number(resumed[2]) : 0,
      resumedHealthDrivers: resumed ? Number(resumed[3]) : 0,
      postedAfterRestart: rest.length * BATCH,
      postAfterRestartMs: Math.round(postMs),
      allDeliveredAfterRestartMs: Math.round(deliveredMs),
      deliveriesPerSecondAfterRestart: Math.round(
        (expected.size - (figures.crash as { deliveredBeforeCrash: number }).deliveredBeforeCrash) /
          (deliveredMs / 1000),
      ),
      historyReadMs: Math.round(historyReadMs),
      notifications: expected.size,
      sent: [...history.values()].filter((s) => s.status === 'SENT').length,
      receiverRequests: sends,
      recordedAttempts: [...history.values()].reduce((a, s) => a + s.attemptCount, 0),
      notificationsMatchingExactly: exact,
      duplicateSends: duplicates,
      notificationsWithDuplicates,
      duplicatesWithADifferentBody: duplicatesWithOtherBody,
    };
    // Duplicates come from the crash: a send made before it whose attempt was not yet recorded
    // is made again by the redelivered message or the resumed execution, so at most what could
    // be in flight at the SIGKILL: every poller's batch, one send per retry execution, and a
    // release step's sends per health driver (it releases parked notifications several at
    // once). And from a delivery job that failed after its send (a store call failing on this
    // loaded machine): SQS redelivers it and it may send once more; the handler logs each.
    const failedJobs = platforms
      .flatMap((x) => [x.stdoutFile, x.stderrFile])
      .map((f) => readFileSync(f, 'utf8').split(FAILED_JOB_LOG_MESSAGE).length - 1)
      .reduce((a, b) => a + b, 0);
    const load = figures.load as { resumedRetryExecutions: number; resumedHealthDrivers: number };
    const duplicateBound =
      LOCAL_DEFAULTS.pollers * SQS_MAX_BATCH +
      load.resumedRetryExecutions +
      load.resumedHealthDrivers * DEFAULT_HEALTH_SETTINGS.releaseConcurrency +
      failedJobs;
    (figures.load as Record<string, unknown>).failedDeliveryJobsLogged = failedJobs;
    (figures.load as Record<string, unknown>).duplicateSendsBound = duplicateBound;
    expect(wrong.slice(0, 20)).toEqual([]);
    expect(history.size).toBe(expected.size);
    expect(duplicatesWithOtherBody).toBe(0);
    expect(duplicates).toBeLessThanOrEqual(duplicateBound);
  }, 1_200_000);

  it('no secret in the logs, the history (API and tables), API responses or the queue and execution journals, the keys the platform made included', async () => {
    const p = platform!;
    const given = hooks.flatMap((h) => [
      ...needlesOf(h.secrets),
      ...(h.rotatedSecret ? needlesOf({ ...h.secrets, signingSecret: h.rotatedSecret }) : []),
    ]);
    // A sample of full notification records (request and attempts included).
    const ids = [...expected.keys()].filter(
      (_, i) => i % Math.max(1, Math.floor(expected.size / 300)) === 0,
    );
    await mapBounded(ids, 8, async (id) => {
      const res = await api().request('GET', `/notifications/${id}`);
      expect(res.status).toBe(200);
    });
    const defs = await api().request('GET', '/webhooks');
    expect(defs.body.items).toHaveLength(WEBHOOKS);
    // A cursor as issued (the cursor secret's positive control below).
    const firstPage = await api().request(
      'GET',
      `/notifications?webhookId=${hooks[0]!.id}&limit=1`,
    );
    const issuedCursor = firstPage.body.nextCursor as string;
    expect(typeof issuedCursor).toBe('string');
    // The operator's stop (SIGTERM) alone: the helper's stop() would SIGKILL what is left.
    graceful = await p.terminate();

    // Tables scanned directly, with the platform stopped (stand-ins started on its DATA_DIR),
    // and the keys the platform made opened from them with its installation key.
    const standIns = await startStandIns({ dataDir });
    const tables: Haystack[] = [];
    let scanned = 0;
    let made: Awaited<ReturnType<typeof platformKeys>>;
    try {
      for (const table of [
        standIns.tables.notifications,
        standIns.tables.payloads,
        standIns.tables.webhooks,
        standIns.tables.subjectKeys,
      ]) {
        const dictionaries = await payloadDictionaries(standIns.clients.dynamo, table);
        let key: Record<string, unknown> | undefined;
        do {
          const page = await standIns.clients.dynamo.send(
            new ScanCommand({ TableName: table, ExclusiveStartKey: key as never }),
          );
          scanned += page.Items?.length ?? 0;
          tables.push({
            where: `table ${table}`,
            text: scannedItemsText(page.Items, dictionaries),
          });
          key = page.LastEvaluatedKey;
        } while (key);
      }
      made = await platformKeys(
        standIns.clients.dynamo,
        standIns.tables,
        standInCipher(standIns),
        hooks.map((h) => h.id),
      );
    } finally {
      await standIns.stop();
    }
    // The payloads really are there: the scan searched the stored requests.
    expect(scanned).toBeGreaterThanOrEqual(2 * expected.size);
    const needles = [...new Set([...given, ...platformKeyNeedles(made)])];

    const stateFiles = (root: string) =>
      filesUnder(root).filter((f) => !f.includes(`${path.sep}dynamodb${path.sep}`));
    const findings: Finding[] = [
      ...searchTexts(tables, needles),
      ...searchTexts(
        clients.map((c, i) => ({ where: `api responses (run ${i + 1})`, text: c.seen.join('\n') })),
        needles,
      ),
      ...(await searchFiles(
        platforms.flatMap((x) => [x.stdoutFile, x.stderrFile]),
        needles,
      )),
      // Queue messages (the SQS journal) and execution inputs, as the crash left them and at
      // the end, and DynamoDB Local's own files (every table, secrets sealed in the Webhooks one).
      ...(await searchFiles(stateFiles(atCrashDir), needles)),
      ...(await searchFiles(filesUnder(dataDir), needles)),
    ];
    // Positive controls: the same search finds every hook's Basic credential in what its
    // receiver got (receivers legitimately get it), and every needle planted in a file and in
    // a text. The keys searched for are the ones in use: each private key gives its webhook's
    // public key as the API showed it, the subject keys open every sealed stored request, and
    // a cursor the API issued carries a MAC under the cursor secret searched for.
    const inReceived = searchTexts(
      hooks.map((h) => ({
        where: `receiver ${h.index}`,
        text: receivedHeaders.get(h.index) ?? '',
      })),
      needles,
    );
    const control = path.join(dir, 'positive-control.jsonl');
    // As bytes: a raw key leaks as its bytes (the file search reads latin1, one byte a char).
    writeFileSync(control, Buffer.concat(needles.map((n) => Buffer.from(`${n}\n`, 'latin1'))));
    const inControlFile = await searchFiles([control], needles);
    const inControlText = searchTexts(
      [{ where: 'planted', text: JSON.stringify({ planted: needles }) }],
      needles,
    );
    const ed25519Hooks = hooks.filter((h) => h.ed25519);
    const searched = {
      positiveControls: {
        receiversWithTheirCredentialFound: new Set(inReceived.map((f) => f.where)).size,
        plantedNeedlesFound: inControlFile.length,
        plantedNeedlesFoundInText: new Set(inControlText.map((f) => f.needle)).size,
        privateKeysMatchingTheirPublicKey: ed25519Hooks
          .flatMap((h) =>
            h.publicKeys.map((pk, i) => {
              const privateKey = made.privateKeys.get(h.id)?.[i];
              return privateKey !== undefined && publicKeyOf(privateKey) === pk;
            }),
          )
          .filter(Boolean).length,
        sealedRequestsOpenedBySubjectKeys: made.sealedPayloadsOpened,
        cursorIssuedUnderTheCursorKeySearched: cursorVerifies(made.cursorKey, issuedCursor, {
          webhookId: hooks[0]!.id,
          limit: 1,
        }),
      },
      secretsSearched: hooks.length * 2 + hooks.filter((h) => h.rotatedSecret).length,
      privateKeysSearched: [...made.privateKeys.values()].flat().length,
      subjectKeysSearched: made.subjectKeys.length,
      sealedRequests: made.sealedPayloads,
      needles: needles.length,
      tableItemsScanned: scanned,
      apiResponses: clients.reduce((n, c) => n + c.seen.length, 0),
      logFiles: platforms.length * 2,
      journalFiles: stateFiles(dataDir).length,
      journalFilesAtCrash: stateFiles(atCrashDir).length,
      dynamoDbFiles: filesUnder(dataDir).length - stateFiles(dataDir).length,
      findings: findings.length,
    };
    figures.secrets = searched;
    expect(searched.journalFiles).toBeGreaterThan(0);
    expect(searched.journalFilesAtCrash).toBeGreaterThan(0);
    expect(searched.dynamoDbFiles).toBeGreaterThan(0);
    const publicKeys = ed25519Hooks.flatMap((h) => h.publicKeys);
    expect(searched.privateKeysSearched).toBe(publicKeys.length);
    expect(publicKeys.length).toBeGreaterThan(ed25519Hooks.length);
    expect(hooks.filter((h) => h.rotatedSecret !== undefined).length).toBeGreaterThan(0);
    // One key per subject (none was erased), one sealed stored request per event about one.
    const aboutSubjects = batches.flat().filter((e) => e.subject !== undefined);
    expect(aboutSubjects.length).toBeGreaterThan(0);
    expect(searched.subjectKeysSearched).toBe(new Set(aboutSubjects.map((e) => e.subject)).size);
    expect(searched.sealedRequests).toBe(aboutSubjects.length);
    expect(searched.positiveControls).toEqual({
      receiversWithTheirCredentialFound: hooks.length,
      plantedNeedlesFound: needles.length,
      plantedNeedlesFoundInText: needles.length,
      privateKeysMatchingTheirPublicKey: publicKeys.length,
      sealedRequestsOpenedBySubjectKeys: searched.sealedRequests,
      cursorIssuedUnderTheCursorKeySearched: true,
    });
    expect(findings).toEqual([]);
  }, 300_000);

  it('a graceful stop (SIGTERM) leaves no process behind without anyone killing one', async () => {
    // Taken by terminate() above, before any cleanup could kill a leftover.
    expect(graceful).toBeDefined();
    figures.gracefulStop = {
      exitedBy: graceful!.exitedBy,
      processesLeftAlive: graceful!.leftAlive.length,
    };
    expect(graceful!.exitedBy).toBe('0');
    expect(graceful!.leftAlive).toEqual([]);
    const everyChild = platforms.flatMap((p) => [p.pid, ...p.children.map((c) => c.pid)]);
    expect(everyChild.filter(isAlive)).toEqual([]);
  });
});
