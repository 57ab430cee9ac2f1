/**
 * The sparse byStatus index against DynamoDB Local with the real stores: a SENT notification
 * has no byStatus entry, every status change adds or removes it, and the lists that cannot use
 * it (SENT, or no status, across webhooks) read every webhook's byWebhook partitions, deleted
 * webhooks included, and page exactly as before.
 */
import {
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { createAwsClients } from '../../lambdas/adapters/aws-clients';
import { shardOf } from '../../lambdas/adapters/dynamo-listing';
import {
  NOTIFICATION_INDEX_SHARDS,
  NOTIFICATIONS_TABLE,
} from '../../lambdas/adapters/dynamo-schema';
import { DynamoNotificationStore, DynamoWebhookStore } from '../../lambdas/adapters/dynamo-stores';
import type { Notification, NotificationStatus } from '../../lambdas/core/model';
import type { NotificationQuery, NotificationSummary } from '../../lambdas/ports';
import { createTables, standInCipher } from '../../local/standins';
import { TEST_CURSOR_KEY } from '../support/cursor-key';
import {
  attempt,
  newestFirst,
  notification,
  summaryOf,
  walk as walkPages,
  webhookDefinition,
} from '../support/history';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();
const EXPIRES = 2_000_000_000;
const STATUSES: NotificationStatus[] = ['QUEUED', 'WAITING', 'SENT', 'FAILED'];
let tableCounter = 0;

interface Read {
  readonly command: string;
  readonly table: string;
  readonly index?: string;
  readonly key?: string;
}

/** Fresh tables, the real stores over a client that records every read it sends. */
async function setup() {
  const s = standIns();
  tableCounter += 1;
  const names = {
    webhooks: `sp${tableCounter}-webhooks`,
    notifications: `sp${tableCounter}-notifications`,
    payloads: `sp${tableCounter}-payloads`,
    eventTypes: `sp${tableCounter}-event-types`,
  };
  await createTables(s.clients.dynamo, names);
  const dynamo = createAwsClients(s.env).dynamo;
  const reads: Read[] = [];
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String((context as { commandName?: string }).commandName);
      const input = args.input as {
        TableName: string;
        IndexName?: string;
        ExpressionAttributeValues?: { ':pk'?: { S?: string } };
      };
      if (command === 'QueryCommand' || command === 'ScanCommand') {
        reads.push({
          command,
          table: input.TableName,
          ...(input.IndexName ? { index: input.IndexName } : {}),
          ...(input.ExpressionAttributeValues?.[':pk']?.S
            ? { key: input.ExpressionAttributeValues[':pk'].S }
            : {}),
        });
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordReads' },
  );
  const webhooks = new DynamoWebhookStore(dynamo, names.webhooks, standInCipher(s));
  const notifications = new DynamoNotificationStore(
    dynamo,
    names.notifications,
    TEST_CURSOR_KEY,
    webhooks,
  );
  return { dynamo, names, reads, webhooks, notifications };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** The ids in an index (a Scan of the index). */
async function indexIds(dynamo: DynamoDBClient, table: string, index: string): Promise<string[]> {
  const out = await dynamo.send(new ScanCommand({ TableName: table, IndexName: index }));
  return (out.Items ?? []).map((item) => item.id?.S ?? '').sort();
}

async function statusEntryOf(t: Setup, id: string): Promise<string | undefined> {
  const out = await t.dynamo.send(
    new ScanCommand({
      TableName: t.names.notifications,
      IndexName: NOTIFICATIONS_TABLE.byStatusIndex.name,
    }),
  );
  return out.Items?.find((item) => item.id?.S === id)?.statusShard?.S;
}

/** Every item of `query`, from `cursor` on. */
async function walk(
  t: Setup,
  query: Omit<NotificationQuery, 'cursor'>,
  cursor?: string,
): Promise<NotificationSummary[]> {
  return (await walkPages(t.notifications, { ...query, ...(cursor ? { cursor } : {}) })).items;
}

/** Notifications over three webhooks, every status, two event types, shared instants. */
function population(): Notification[] {
  const base = Date.parse('2026-11-28T08:00:00.000Z');
  return Array.from({ length: 48 }, (_, i) => {
    const status = STATUSES[(i * 5) % 4]!;
    return notification(`ntf_${String((i * 7919) % 1000).padStart(3, '0')}_${i}`, {
      webhookId: ['wh_a', 'wh_b', 'wh_gone'][i % 3]!,
      eventType: i % 5 === 2 ? 'LOAN_REPAID' : 'LOAN_DISBURSEMENT',
      createdAt: new Date(base + (i - (i % 4 === 3 ? 1 : 0)) * 60_000).toISOString(),
      status,
      failureReason: status === 'FAILED' ? 'TIMEOUT' : null,
    });
  });
}

async function seed(t: Setup, items: readonly Notification[]): Promise<void> {
  const created = await Promise.all(items.map((n) => t.notifications.create(n, EXPIRES)));
  expect(created.every(Boolean)).toBe(true);
}

describe('the byStatus index holds every notification but the SENT ones', () => {
  it('gives QUEUED, WAITING and FAILED notifications an entry, SENT ones none', async () => {
    const t = await setup();
    await t.webhooks.put(webhookDefinition('wh_a'));
    await seed(
      t,
      STATUSES.map((status) => notification(`ntf_${status.toLowerCase()}`, { status })),
    );

    const { byStatusIndex, byWebhookIndex } = NOTIFICATIONS_TABLE;
    const table = t.names.notifications;
    expect(await indexIds(t.dynamo, table, byStatusIndex.name)).toEqual([
      'ntf_failed',
      'ntf_queued',
      'ntf_waiting',
    ]);
    expect(await indexIds(t.dynamo, table, byWebhookIndex.name)).toEqual([
      'ntf_failed',
      'ntf_queued',
      'ntf_sent',
      'ntf_waiting',
    ]);
    expect(await statusEntryOf(t, 'ntf_failed')).toBe(`FAILED#${shardOf('ntf_failed')}`);
  });

  it('removes the entry whenever a notification becomes SENT and sets it again when it leaves SENT', async () => {
    const t = await setup();
    await t.webhooks.put(webhookDefinition('wh_a'));
    const id = 'ntf_moving';
    const shard = shardOf(id);
    await seed(t, [notification(id)]);
    expect(await statusEntryOf(t, id)).toBe(`QUEUED#${shard}`);

    const sent = { status: 'SENT', failureReason: null, nextAttemptAt: null } as const;
    expect(await t.notifications.recordAttempt(id, attempt(1, 'SENT'), sent)).toBe(true);
    expect(await statusEntryOf(t, id)).toBeUndefined();

    // A manual resend queues it again, then its webhook is paused: it is parked.
    const queued = { status: 'QUEUED', failureReason: null, nextAttemptAt: null } as const;
    expect(await t.notifications.setStatus(id, queued, 'SENT')).toBe(true);
    expect(await statusEntryOf(t, id)).toBe(`QUEUED#${shard}`);
    const parked = {
      status: 'WAITING',
      failureReason: null,
      nextAttemptAt: null,
      waitingReason: 'PAUSED',
      pendingResend: { jobId: null },
    } as const;
    expect(await t.notifications.setStatus(id, parked, 'QUEUED')).toBe(true);
    expect(await statusEntryOf(t, id)).toBe(`WAITING#${shard}`);
    expect(await t.notifications.listParked('wh_a', 10)).toEqual([id]);

    // Released and sent: out of byStatus and byParked.
    const released = { ...sent, pendingResend: null };
    expect(await t.notifications.recordAttempt(id, attempt(2, 'SENT'), released)).toBe(true);
    expect(await statusEntryOf(t, id)).toBeUndefined();
    expect(await t.notifications.listParked('wh_a', 10)).toEqual([]);

    // Parked straight from SENT, failed, and marked SENT without an attempt.
    expect(await t.notifications.setStatus(id, parked, 'SENT')).toBe(true);
    expect(await statusEntryOf(t, id)).toBe(`WAITING#${shard}`);
    const failed = { status: 'FAILED', failureReason: 'TIMEOUT', nextAttemptAt: null } as const;
    expect(await t.notifications.setStatus(id, failed)).toBe(true);
    expect(await statusEntryOf(t, id)).toBe(`FAILED#${shard}`);
    expect(await t.notifications.setStatus(id, sent, 'FAILED')).toBe(true);
    expect(await statusEntryOf(t, id)).toBeUndefined();

    expect((await t.notifications.list({ status: 'SENT', limit: 5 })).items).toEqual([
      expect.objectContaining({ id, status: 'SENT', attemptCount: 2 }),
    ]);
    for (const status of ['QUEUED', 'WAITING', 'FAILED'] as const)
      expect((await t.notifications.list({ status, limit: 5 })).items).toEqual([]);
  });
});

describe('status fields that are null', () => {
  /** The status fields the stored item carries (absent ones are not listed). */
  async function storedFields(t: Setup, id: string): Promise<string[]> {
    const out = await t.dynamo.send(
      new GetItemCommand({ TableName: t.names.notifications, Key: { id: { S: id } } }),
    );
    return ['failureReason', 'nextAttemptAt', 'waitingReason'].filter(
      (name) => out.Item?.[name] !== undefined,
    );
  }

  it('are left out of the item and its index entries, and still read back as null', async () => {
    const t = await setup();
    await t.webhooks.put(webhookDefinition('wh_a'));
    const id = 'ntf_nulls';
    await seed(t, [notification(id)]);
    expect(await storedFields(t, id)).toEqual([]);

    const retrying = {
      status: 'WAITING',
      failureReason: 'TIMEOUT',
      nextAttemptAt: '2026-11-28T10:01:00.000Z',
    } as const;
    expect(await t.notifications.recordAttempt(id, attempt(1, 'FAILED'), retrying)).toBe(true);
    expect(await storedFields(t, id)).toEqual(['failureReason', 'nextAttemptAt', 'waitingReason']);
    expect(await t.notifications.get(id)).toMatchObject({
      status: 'WAITING',
      failureReason: 'TIMEOUT',
      nextAttemptAt: '2026-11-28T10:01:00.000Z',
    });

    const sent = { status: 'SENT', failureReason: null, nextAttemptAt: null } as const;
    expect(await t.notifications.recordAttempt(id, attempt(2, 'SENT'), sent)).toBe(true);
    expect(await storedFields(t, id)).toEqual([]);
    expect(await t.notifications.get(id)).toMatchObject({
      status: 'SENT',
      failureReason: null,
      nextAttemptAt: null,
      attempts: [expect.objectContaining({ number: 1 }), expect.objectContaining({ number: 2 })],
    });
    expect((await t.notifications.list({ webhookId: 'wh_a', limit: 5 })).items).toEqual([
      expect.objectContaining({ id, status: 'SENT', failureReason: null, nextAttemptAt: null }),
    ]);
  });
});

describe('lists across webhooks', () => {
  const all = population();
  let t: Setup;
  beforeAll(async () => {
    t = await setup();
    for (const id of ['wh_a', 'wh_b', 'wh_gone', 'wh_quiet'])
      await t.webhooks.put(webhookDefinition(id));
    await seed(t, all);
    expect(await t.webhooks.delete('wh_gone')).toBe(true);
  });

  it('keep a deleted webhook out of the definitions but its history in the lists', async () => {
    expect(await t.webhooks.get('wh_gone')).toBeUndefined();
    expect((await t.webhooks.list()).map((d) => d.id).sort()).toEqual(['wh_a', 'wh_b', 'wh_quiet']);
    expect(await t.webhooks.delete('wh_gone')).toBe(false);
    expect([...(await t.webhooks.historyIds())].sort()).toEqual([
      'wh_a',
      'wh_b',
      'wh_gone',
      'wh_quiet',
    ]);
    expect(all.some((n) => n.webhookId === 'wh_gone' && n.status === 'SENT')).toBe(true);
  });

  it('forget a tombstone once it expired, though TTL has not removed it yet', async () => {
    const u = await setup();
    await u.webhooks.put(webhookDefinition('wh_a'));
    const past = Math.floor(Date.now() / 1000) - 1;
    await u.dynamo.send(
      new PutItemCommand({
        TableName: u.names.webhooks,
        Item: {
          id: { S: 'wh_expired' },
          deletedAt: { S: '2026-01-01T00:00:00.000Z' },
          expiresAt: { N: String(past) },
        },
      }),
    );
    expect(await u.webhooks.historyIds()).toEqual(['wh_a']);
  });

  it('read the webhooks of the history past the first page of their scan (1 MB)', async () => {
    const u = await setup();
    // Four tombstones of about 390 KB each: a scan answers at most 1 MB per page.
    const ids = ['wh_big0', 'wh_big1', 'wh_big2', 'wh_big3'];
    const future = Math.floor(Date.now() / 1000) + 3600;
    for (const id of ids) {
      await u.dynamo.send(
        new PutItemCommand({
          TableName: u.names.webhooks,
          Item: {
            id: { S: id },
            deletedAt: { S: '2026-11-28T07:00:00.000Z' },
            expiresAt: { N: String(future) },
            padding: { S: 'x'.repeat(390 * 1024) },
          },
        }),
      );
    }
    const items = ids.map((webhookId, i) =>
      notification(`ntf_big_${i}`, {
        webhookId,
        createdAt: `2026-11-28T09:0${i}:00.000Z`,
        status: 'SENT',
      }),
    );
    await seed(u, items);

    expect([...(await u.webhooks.historyIds())].sort()).toEqual(ids);
    expect(await walk(u, { limit: 10 })).toEqual([...items].sort(newestFirst).map(summaryOf));
  });

  it.each<[string, Omit<NotificationQuery, 'limit'>, (n: Notification) => boolean]>([
    ['everything', {}, () => true],
    ['SENT', { status: 'SENT' }, (n) => n.status === 'SENT'],
    [
      'SENT of one event type',
      { status: 'SENT', eventType: 'LOAN_REPAID' },
      (n) => n.status === 'SENT' && n.eventType === 'LOAN_REPAID',
    ],
    [
      'everything in a time range',
      { from: '2026-11-28T08:10:00.000Z', to: '2026-11-28T08:40:00.000Z' },
      (n) => n.createdAt >= '2026-11-28T08:10:00.000Z' && n.createdAt < '2026-11-28T08:40:00.000Z',
    ],
    ['FAILED', { status: 'FAILED' }, (n) => n.status === 'FAILED'],
    [
      'SENT of the deleted webhook',
      { webhookId: 'wh_gone', status: 'SENT' },
      (n) => n.webhookId === 'wh_gone' && n.status === 'SENT',
    ],
  ])('page "%s" exactly, newest first, at page sizes 1, 2 and 7', async (_name, query, keep) => {
    const expected = all.filter(keep).sort(newestFirst).map(summaryOf);
    expect(expected.length).toBeGreaterThan(2);
    for (const limit of [1, 2, 7]) expect(await walk(t, { ...query, limit })).toEqual(expected);
  });

  it('read SENT from the byWebhook partitions of every webhook of the history, after one scan of the ids per page', async () => {
    t.reads.length = 0;
    const page = await t.notifications.list({ status: 'SENT', limit: 3 });
    expect(page.items).toHaveLength(3);
    expect(t.reads.filter((r) => r.table === t.names.webhooks)).toEqual([
      { command: 'ScanCommand', table: t.names.webhooks },
    ]);
    const queries = t.reads.filter((r) => r.table === t.names.notifications);
    expect(new Set(queries.map((r) => r.index))).toEqual(
      new Set([NOTIFICATIONS_TABLE.byWebhookIndex.name]),
    );
    const expectedKeys = ['wh_a', 'wh_b', 'wh_gone', 'wh_quiet'].flatMap((id) =>
      Array.from({ length: NOTIFICATION_INDEX_SHARDS }, (_, s) => `${id}#${s}`),
    );
    expect(new Set(queries.map((r) => r.key))).toEqual(new Set(expectedKeys));
  });

  it('read FAILED from its byStatus partitions only, without listing the webhooks', async () => {
    t.reads.length = 0;
    await walk(t, { status: 'FAILED', limit: 4 });
    expect(t.reads.filter((r) => r.table === t.names.webhooks)).toEqual([]);
    const keys = new Set(t.reads.map((r) => `${r.index} ${r.key}`));
    expect(keys).toEqual(
      new Set(Array.from({ length: NOTIFICATION_INDEX_SHARDS }, (_, s) => `byStatus FAILED#${s}`)),
    );
  });

  it('show a webhook created after the first page only with notifications older than the cursor', async () => {
    const u = await setup();
    await u.webhooks.put(webhookDefinition('wh_a'));
    const first = all.filter((n) => n.webhookId === 'wh_a').slice(0, 12);
    await seed(u, first);
    const page = await u.notifications.list({ limit: 4 });
    const cursorKey = `${page.items.at(-1)!.createdAt}#${page.items.at(-1)!.id}`;

    await u.webhooks.put(webhookDefinition('wh_late'));
    const older = notification('ntf_late_old', {
      webhookId: 'wh_late',
      createdAt: '2026-11-28T08:00:30.000Z',
      status: 'SENT',
    });
    const newer = notification('ntf_late_new', {
      webhookId: 'wh_late',
      createdAt: '2026-11-28T23:00:00.000Z',
      status: 'SENT',
    });
    expect(`${older.createdAt}#${older.id}` < cursorKey).toBe(true);
    await seed(u, [older, newer]);

    const rest = await walk(u, { limit: 4 }, page.nextCursor!);
    const expected = [...first, older]
      .filter((n) => `${n.createdAt}#${n.id}` < cursorKey)
      .sort(newestFirst)
      .map(summaryOf);
    expect(rest).toEqual(expected);
  });

  it('list a SENT notification written before the index was sparse once, though it is still in byStatus', async () => {
    const u = await setup();
    await u.webhooks.put(webhookDefinition('wh_a'));
    const items = all.filter((n) => n.webhookId === 'wh_a');
    await seed(u, items);
    // What an item sent before this layout still carries.
    const legacy = items.filter((n) => n.status === 'SENT');
    for (const n of legacy) {
      await u.dynamo.send(
        new UpdateItemCommand({
          TableName: u.names.notifications,
          Key: { id: { S: n.id } },
          UpdateExpression: 'SET statusShard = :shard',
          ExpressionAttributeValues: { ':shard': { S: `SENT#${shardOf(n.id)}` } },
        }),
      );
    }
    expect(await statusEntryOf(u, legacy[0]!.id)).toBe(`SENT#${shardOf(legacy[0]!.id)}`);

    for (const [query, keep] of [
      [{}, () => true],
      [{ status: 'SENT' }, (n: Notification) => n.status === 'SENT'],
      [{ status: 'QUEUED' }, (n: Notification) => n.status === 'QUEUED'],
      [{ webhookId: 'wh_a' }, () => true],
    ] as const) {
      const expected = items.filter(keep).sort(newestFirst).map(summaryOf);
      for (const limit of [1, 7]) expect(await walk(u, { ...query, limit })).toEqual(expected);
    }
  });
});
