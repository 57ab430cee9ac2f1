/**
 * What a notification item stores, against DynamoDB Local with the real store: `createdAt` is
 * left to the sort key `createdKey`, `webhookId` to the partition key `webhookShard` except
 * while the item is in byStatus (whose projection has no `webhookShard`). Items written before,
 * with both attributes, read exactly as before, and every API answer is the same text for both.
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { shardOf } from '../../lambdas/adapters/dynamo-listing';
import { NOTIFICATIONS_TABLE } from '../../lambdas/adapters/dynamo-schema';
import { notificationIdFor } from '../../lambdas/core/ids';
import type { Notification } from '../../lambdas/core/model';
import type { NotificationUpdate } from '../../lambdas/ports';
import { apiHandlerFor, storesFor } from '../support/api-harness';
import { client } from '../support/apigw';
import {
  createDeliveryHarness,
  type DeliveryHarness,
  definition,
  deliverJob,
  event,
} from '../support/delivery-harness';
import { attempt, notification, summaryOf, webhookDefinition } from '../support/history';
import { always, ok, type Receiver, startReceiver } from '../support/receivers';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();
const EXPIRES = 2_000_000_000;
const WH_1 = 'wh_LAYOUT1AAAAAAAAAAAAAAAAAAA';
const WH_2 = 'wh_LAYOUT2BBBBBBBBBBBBBBBBBBB';
const WH_3 = 'wh_LAYOUT3CCCCCCCCCCCCCCCCCCC';
const WH_4 = 'wh_LAYOUT4DDDDDDDDDDDDDDDDDDD';
const failed: NotificationUpdate = {
  status: 'FAILED',
  failureReason: 'INVALID_HTTP_RESPONSE',
  nextAttemptAt: null,
};
const sent: NotificationUpdate = { status: 'SENT', failureReason: null, nextAttemptAt: null };

type Item = Record<string, AttributeValue>;

const stores = () => storesFor(standIns());
const table = () => standIns().tables.notifications;

beforeAll(async () => {
  for (const id of [WH_1, WH_2, WH_3, WH_4]) await stores().webhooks.put(webhookDefinition(id));
});

async function rawItem(id: string): Promise<Item | undefined> {
  const out = await standIns().clients.dynamo.send(
    new GetItemCommand({ TableName: table(), Key: { id: { S: id } }, ConsistentRead: true }),
  );
  return out.Item;
}

/** The raw entry of `id` in an index partition (a Query of that partition, as lists read it). */
async function indexEntry(
  index: 'byWebhook' | 'byStatus',
  key: string,
  id: string,
): Promise<Item | undefined> {
  const { byWebhookIndex, byStatusIndex } = NOTIFICATIONS_TABLE;
  const out = await standIns().clients.dynamo.send(
    new QueryCommand({
      TableName: table(),
      IndexName: index,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: {
        '#pk': index === 'byWebhook' ? byWebhookIndex.partitionKey : byStatusIndex.partitionKey,
      },
      ExpressionAttributeValues: { ':pk': { S: key } },
    }),
  );
  return out.Items?.find((item) => item.id?.S === id);
}

function sentAt(id: string, webhookId: string, createdAt: string): Notification {
  return notification(id, { webhookId, createdAt, status: 'SENT', attempts: [attempt(1, 'SENT')] });
}

describe('a notification created SENT', () => {
  const n = sentAt('ntf_LAYOUTSENT', WH_1, '2026-11-28T10:00:00.000Z');

  beforeAll(async () => {
    expect(await stores().notifications.create(n, EXPIRES)).toBe(true);
  });

  it('stores neither webhookId nor createdAt, in its item or its byWebhook entry: the keys carry both', async () => {
    const item = await rawItem(n.id);
    expect(item).toBeDefined();
    expect(item?.webhookId).toBeUndefined();
    expect(item?.createdAt).toBeUndefined();
    expect(item?.statusShard).toBeUndefined();
    expect(item?.webhookShard).toEqual({ S: `${WH_1}#${shardOf(n.id)}` });
    expect(item?.createdKey).toEqual({ S: `2026-11-28T10:00:00.000Z#${n.id}` });

    const entry = await indexEntry('byWebhook', `${WH_1}#${shardOf(n.id)}`, n.id);
    expect(entry).toBeDefined();
    expect(entry?.webhookId).toBeUndefined();
    expect(entry?.createdAt).toBeUndefined();
  });

  it('reads back whole: get, its webhook list and the SENT list across webhooks', async () => {
    expect(await stores().notifications.get(n.id)).toEqual(n);
    expect((await stores().notifications.list({ webhookId: WH_1, limit: 10 })).items).toEqual([
      summaryOf(n),
    ]);
    const across = await stores().notifications.list({ status: 'SENT', limit: 50 });
    expect(across.items.filter((s) => s.id === n.id)).toEqual([summaryOf(n)]);
  });
});

describe('a notification created WAITING or FAILED', () => {
  const waiting = notification('ntf_LAYOUTWAIT', {
    webhookId: WH_2,
    createdAt: '2026-11-28T10:01:00.000Z',
    status: 'WAITING',
    failureReason: 'TIMEOUT',
    nextAttemptAt: '2026-11-28T10:06:00.000Z',
    attempts: [attempt(1)],
  });
  const parked = notification('ntf_LAYOUTPARK', {
    webhookId: WH_2,
    createdAt: '2026-11-28T10:01:30.000Z',
    status: 'WAITING',
    waitingReason: 'PAUSED',
  });
  const failedOne = notification('ntf_LAYOUTFAIL', {
    webhookId: WH_2,
    createdAt: '2026-11-28T10:02:00.000Z',
    status: 'FAILED',
    failureReason: 'INVALID_HTTP_RESPONSE',
    attempts: [attempt(1)],
  });

  beforeAll(async () => {
    for (const n of [waiting, parked, failedOne])
      expect(await stores().notifications.create(n, EXPIRES)).toBe(true);
  });

  it.each([
    ['WAITING', waiting],
    ['WAITING (parked)', parked],
    ['FAILED', failedOne],
  ])('%s stores webhookId (its byStatus entry carries it) and no createdAt', async (_name, n) => {
    const item = await rawItem(n.id);
    expect(item?.webhookId).toEqual({ S: WH_2 });
    expect(item?.createdAt).toBeUndefined();
    const statusKey = `${n.status}#${shardOf(n.id)}`;
    expect(item?.statusShard).toEqual({ S: statusKey });

    const entry = await indexEntry('byStatus', statusKey, n.id);
    expect(entry).toBeDefined();
    expect(entry?.webhookId).toEqual({ S: WH_2 });
    expect(entry?.webhookShard).toBeUndefined();
    expect(entry?.createdAt).toBeUndefined();

    expect(await stores().notifications.get(n.id)).toEqual(n);
    const byStatus = await stores().notifications.list({ status: n.status, limit: 50 });
    expect(byStatus.items.filter((s) => s.id === n.id)).toEqual([summaryOf(n)]);
  });
});

describe('a notification created SENT and moved back into byStatus', () => {
  it('gains its webhookId with the move (a resend that failed, or parked), so lists by status across webhooks name its webhook', async () => {
    const store = stores().notifications;
    const a = sentAt('ntf_LAYOUTMOVEA', WH_3, '2026-11-28T11:00:00.000Z');
    const b = sentAt('ntf_LAYOUTMOVEB', WH_4, '2026-11-28T11:01:00.000Z');
    const c = sentAt('ntf_LAYOUTMOVEC', WH_4, '2026-11-28T11:02:00.000Z');
    for (const n of [a, b, c]) expect(await store.create(n, EXPIRES)).toBe(true);
    for (const n of [a, b, c]) expect((await rawItem(n.id))?.webhookId).toBeUndefined();

    // A manual resend that failed (SENT -> FAILED with its attempt).
    const manual = { ...attempt(2), trigger: 'manual' as const };
    expect(await store.recordAttempt(a.id, manual, failed)).toBe(true);
    // A resend parked by its paused webhook (SENT -> WAITING, no attempt).
    const parkedResend: NotificationUpdate = {
      status: 'WAITING',
      failureReason: null,
      nextAttemptAt: null,
      waitingReason: 'PAUSED',
      pendingResend: { jobId: 'job_LAYOUT' },
    };
    expect(await store.setStatus(b.id, parkedResend, 'SENT')).toBe(true);

    expect((await rawItem(a.id))?.webhookId).toEqual({ S: WH_3 });
    expect((await rawItem(b.id))?.webhookId).toEqual({ S: WH_4 });
    const entryA = await indexEntry('byStatus', `FAILED#${shardOf(a.id)}`, a.id);
    expect(entryA?.webhookId).toEqual({ S: WH_3 });

    const failedList = await store.list({ status: 'FAILED', limit: 50 });
    expect(failedList.items.filter((s) => s.id === a.id)).toEqual([
      {
        ...summaryOf(a),
        status: 'FAILED',
        failureReason: 'INVALID_HTTP_RESPONSE',
        attemptCount: 2,
      },
    ]);
    const waitingList = await store.list({ status: 'WAITING', limit: 50 });
    expect(waitingList.items.filter((s) => s.id === b.id)).toEqual([
      { ...summaryOf(b), status: 'WAITING', waitingReason: 'PAUSED' },
    ]);
    expect(await store.listParked(WH_4, 10)).toEqual([b.id]);
    expect(await store.get(b.id)).toEqual({
      ...b,
      status: 'WAITING',
      waitingReason: 'PAUSED',
      pendingResend: { jobId: 'job_LAYOUT' },
    });

    // Sent again: out of byStatus; the webhookId it gained stays and reads the same.
    expect(
      await store.recordAttempt(a.id, { ...attempt(3, 'SENT'), trigger: 'manual' }, sent),
    ).toBe(true);
    const again = await rawItem(a.id);
    expect(again?.statusShard).toBeUndefined();
    expect(again?.webhookId).toEqual({ S: WH_3 });
    expect(await store.get(a.id)).toMatchObject({ webhookId: WH_3, createdAt: a.createdAt });

    // A change whose own condition fails still fails and writes nothing.
    expect(await store.setStatus(c.id, failed, 'QUEUED')).toBe(false);
    expect(await store.recordAttempt(c.id, attempt(5), failed)).toBe(false);
    expect(await store.setStatus('ntf_LAYOUTNONE', failed)).toBe(false);
    expect(await rawItem('ntf_LAYOUTNONE')).toBeUndefined();
    const untouched = await rawItem(c.id);
    expect(untouched?.webhookId).toBeUndefined();
    expect(untouched?.statusShard).toBeUndefined();
    expect(await store.get(c.id)).toEqual(c);
  });
});

describe('through the delivery service', () => {
  let harness: DeliveryHarness;
  let receiver: Receiver;
  beforeAll(async () => {
    harness = createDeliveryHarness(standIns());
    receiver = await startReceiver(ok());
  });
  afterAll(async () => {
    await harness?.close();
    await receiver?.close();
  });

  it('a notification sent at once, resent to a receiver that now fails, lists as FAILED across webhooks under its webhook', async () => {
    receiver.setBehaviour(ok());
    const def = definition({ url: `${receiver.url}/r` });
    await harness.webhooks.put(def);
    const job = deliverJob(def, event({ loanId: 'L-layout' }));
    await harness.service.handleJob(job);
    const id = job.notificationId;
    const first = await harness.notifications.get(id);
    expect(first?.status).toBe('SENT');
    expect((await rawItem(id))?.webhookId).toBeUndefined();

    receiver.setBehaviour(always(500, 'down'));
    await harness.service.handleJob({ kind: 'resend', notificationId: id });

    expect(await harness.notifications.get(id)).toMatchObject({
      webhookId: def.id,
      createdAt: first?.createdAt,
      status: 'FAILED',
      failureReason: 'INVALID_HTTP_RESPONSE',
    });
    const res = await client(apiHandlerFor(standIns()).handler).get(
      '/notifications?status=FAILED&limit=100',
    );
    expect(res.status).toBe(200);
    const listed = (res.body as { items: { id: string }[] }).items.filter((s) => s.id === id);
    expect(listed).toEqual([
      expect.objectContaining({
        id,
        webhookId: def.id,
        createdAt: first?.createdAt,
        status: 'FAILED',
        attemptCount: 2,
      }),
    ]);
  });
});

describe('items written before, with webhookId and createdAt', () => {
  const api = () => client(apiHandlerFor(standIns()).handler);
  const WH_OLD = 'wh_LAYOUTOLDEEEEEEEEEEEEEEEEE';
  const at = (minute: number) => `2026-11-28T12:${String(minute).padStart(2, '0')}:00.000Z`;
  const history: Notification[] = [
    sentAt(notificationIdFor(WH_OLD, 'evt-old-1'), WH_OLD, at(0)),
    { ...sentAt(notificationIdFor(WH_OLD, 'evt-old-2'), WH_OLD, at(1)), eventType: 'LOAN_REPAID' },
    notification(notificationIdFor(WH_OLD, 'evt-old-3'), {
      webhookId: WH_OLD,
      createdAt: at(2),
      status: 'FAILED',
      failureReason: 'TIMEOUT',
      attempts: [attempt(1)],
    }),
    notification(notificationIdFor(WH_OLD, 'evt-old-4'), {
      webhookId: WH_OLD,
      createdAt: at(2),
      status: 'WAITING',
      failureReason: 'TIMEOUT',
      nextAttemptAt: at(9),
      attempts: [attempt(1)],
    }),
    sentAt(notificationIdFor(WH_OLD, 'evt-old-5'), WH_OLD, at(3)),
  ];
  const paths = [
    ...history.map((n) => `/notifications/${n.id}`),
    `/notifications?webhookId=${WH_OLD}&limit=2`,
    `/notifications?webhookId=${WH_OLD}&limit=10`,
    `/notifications?status=SENT&limit=2`,
    `/notifications?status=FAILED&limit=50`,
    `/notifications?status=WAITING&limit=50`,
    `/notifications?eventType=LOAN_REPAID&limit=50`,
    `/notifications?from=${at(1)}&to=${at(3)}&limit=50`,
  ];

  /** Every answer of `paths`, and of the pages their cursors lead to, as text. */
  async function answers(): Promise<string[]> {
    const out: string[] = [];
    for (const path of paths) {
      let next: string | null = path;
      while (next !== null) {
        const res = await api().get(next);
        expect(res.status).toBe(200);
        out.push(`${next}\n${res.rawBody}`);
        const cursor = (res.body as { nextCursor?: string | null }).nextCursor ?? null;
        next = cursor === null ? null : `${path}&cursor=${encodeURIComponent(cursor)}`;
      }
    }
    return out;
  }

  it('read exactly as before: the same get, list, page and cursor texts as the same history written now', async () => {
    await stores().webhooks.put(webhookDefinition(WH_OLD));
    for (const n of history) expect(await stores().notifications.create(n, EXPIRES)).toBe(true);
    const now = await answers();
    expect(now.some((text) => text.includes(`"webhookId":"${WH_OLD}"`))).toBe(true);
    expect(now.some((text) => text.includes('"nextCursor":"'))).toBe(true);

    // The same history as it was written before: both attributes on every item.
    for (const n of history) {
      await standIns().clients.dynamo.send(
        new UpdateItemCommand({
          TableName: table(),
          Key: { id: { S: n.id } },
          UpdateExpression: 'SET webhookId = :webhookId, createdAt = :createdAt',
          ExpressionAttributeValues: {
            ':webhookId': { S: n.webhookId },
            ':createdAt': { S: n.createdAt },
          },
        }),
      );
      const item = await rawItem(n.id);
      expect(item?.webhookId).toEqual({ S: n.webhookId });
      expect(item?.createdAt).toEqual({ S: n.createdAt });
      const entry = await indexEntry('byWebhook', `${WH_OLD}#${shardOf(n.id)}`, n.id);
      expect(entry?.createdAt).toEqual({ S: n.createdAt });
    }
    expect(await answers()).toEqual(now);
    for (const n of history) expect(await stores().notifications.get(n.id)).toEqual(n);

    // A status change of an old item keeps what it stored and reads the same.
    const oldSent = history[0]!;
    expect(await stores().notifications.setStatus(oldSent.id, failed, 'SENT')).toBe(true);
    const moved = await rawItem(oldSent.id);
    expect(moved?.webhookId).toEqual({ S: WH_OLD });
    expect(moved?.createdAt).toEqual({ S: oldSent.createdAt });
    const failedList = await stores().notifications.list({ status: 'FAILED', limit: 50 });
    expect(failedList.items.filter((s) => s.id === oldSent.id)).toEqual([
      { ...summaryOf(oldSent), status: 'FAILED', failureReason: 'INVALID_HTTP_RESPONSE' },
    ]);

    for (const n of history)
      await standIns().clients.dynamo.send(
        new DeleteItemCommand({ TableName: table(), Key: { id: { S: n.id } } }),
      );
  });
});

describe('attempts', () => {
  const WH_ATT = 'wh_LAYOUTATTFFFFFFFFFFFFFFFFF';
  const waitingReply: NotificationUpdate = {
    status: 'WAITING',
    failureReason: 'INVALID_HTTP_RESPONSE',
    nextAttemptAt: '2026-11-28T13:05:00.000Z',
  };

  it('are stored as value lists without field names, trailing nulls left out, and read back whole', async () => {
    await stores().webhooks.put(webhookDefinition(WH_ATT));
    const n = notification(notificationIdFor(WH_ATT, 'evt-att-1'), {
      webhookId: WH_ATT,
      createdAt: '2026-11-28T13:00:00.000Z',
      status: 'WAITING',
      failureReason: 'INVALID_HTTP_RESPONSE',
      nextAttemptAt: '2026-11-28T13:01:00.000Z',
      attempts: [attempt(1)],
    });
    expect(await stores().notifications.create(n, EXPIRES)).toBe(true);
    // A retry that timed out: no status code, no response body.
    const timedOut = {
      ...attempt(2),
      statusCode: null,
      error: 'TIMEOUT' as const,
      responseBody: null,
    };
    expect(await stores().notifications.recordAttempt(n.id, timedOut, waitingReply)).toBe(true);
    const sentRetry = attempt(3, 'SENT');
    expect(await stores().notifications.recordAttempt(n.id, sentRetry, sent)).toBe(true);

    const stored = (await rawItem(n.id))?.attempts?.L ?? [];
    expect(stored.map((a) => a.M)).toEqual([undefined, undefined, undefined]);
    expect(stored[0]).toEqual({
      L: [
        { N: '1' },
        { S: 'initial' },
        { S: '2026-11-28T10:00:01.000Z' },
        { N: '12' },
        { N: '500' },
        { S: 'FAILED' },
        { S: 'INVALID_HTTP_RESPONSE' },
        { S: 'boom ü' },
      ],
    });
    // Trailing nulls are left out; a null between values stays.
    expect(stored[1]?.L?.map((v) => Object.keys(v)[0])).toEqual([
      'N',
      'S',
      'S',
      'N',
      'NULL',
      'S',
      'S',
    ]);
    expect(stored[2]?.L).toHaveLength(8);
    expect(stored[2]?.L?.[6]).toEqual({ NULL: true });

    const read = await stores().notifications.get(n.id);
    expect(read?.attempts).toEqual([attempt(1), timedOut, sentRetry]);
    // Fields in the documented order, nulls answered as null.
    expect(Object.keys(read?.attempts[1] ?? {})).toEqual(Object.keys(attempt(1)));
    const api = client(apiHandlerFor(standIns()).handler);
    const res = await api.get(`/notifications/${n.id}`);
    expect(res.status).toBe(200);
    expect(res.body.attempts).toEqual([attempt(1), timedOut, sentRetry]);
  });

  it('written before as maps read as before, also with list-form attempts appended to them', async () => {
    const n = notification(notificationIdFor(WH_ATT, 'evt-att-2'), {
      webhookId: WH_ATT,
      createdAt: '2026-11-28T13:10:00.000Z',
      status: 'WAITING',
      failureReason: 'INVALID_HTTP_RESPONSE',
      nextAttemptAt: '2026-11-28T13:11:00.000Z',
      attempts: [attempt(1)],
    });
    expect(await stores().notifications.create(n, EXPIRES)).toBe(true);
    const asNow = await client(apiHandlerFor(standIns()).handler).get(`/notifications/${n.id}`);
    // The attempt as it was written before: a map with the field names, nulls stored as NULL.
    const old = attempt(1);
    await standIns().clients.dynamo.send(
      new UpdateItemCommand({
        TableName: table(),
        Key: { id: { S: n.id } },
        UpdateExpression: 'SET attempts = :attempts',
        ExpressionAttributeValues: {
          ':attempts': {
            L: [
              {
                M: {
                  responseBody: { S: old.responseBody! },
                  error: { S: old.error! },
                  outcome: { S: old.outcome },
                  statusCode: { N: String(old.statusCode) },
                  durationMs: { N: String(old.durationMs) },
                  startedAt: { S: old.startedAt },
                  trigger: { S: old.trigger },
                  number: { N: '1' },
                },
              },
            ],
          },
        },
      }),
    );
    expect((await rawItem(n.id))?.attempts?.L?.[0]?.M).toBeDefined();
    const asBefore = await client(apiHandlerFor(standIns()).handler).get(`/notifications/${n.id}`);
    expect(asBefore.rawBody).toBe(asNow.rawBody);

    const second = attempt(2, 'SENT');
    expect(await stores().notifications.recordAttempt(n.id, second, sent)).toBe(true);
    const stored = (await rawItem(n.id))?.attempts?.L ?? [];
    expect([stored[0]?.M !== undefined, stored[1]?.L !== undefined]).toEqual([true, true]);
    const read = await stores().notifications.get(n.id);
    expect(read?.attempts).toEqual([old, second]);
    expect(read?.attempts.map((a) => Object.keys(a))).toEqual([Object.keys(old), Object.keys(old)]);
  });
});

describe('a notification the table refuses', () => {
  it('is an error, not a report that the notification already existed', async () => {
    // Over DynamoDB's 400 KB item limit: the write fails for another reason than the condition.
    const big = notification('ntf_too_big', {
      webhookId: WH_1,
      status: 'FAILED',
      failureReason: 'TEMPLATE_ERROR',
      failureDetail: 'x'.repeat(500 * 1024),
    });
    await expect(stores().notifications.create(big, EXPIRES)).rejects.toMatchObject({
      name: 'ValidationException',
    });
    expect(await rawItem('ntf_too_big')).toBeUndefined();
  });
});
