/**
 * The communication history through the api handler: notifications and stored requests seeded
 * in DynamoDB Local as the delivery Lambda writes them; resends read back from the fauxqs queue.
 */
import { createHash } from 'node:crypto';
import { notificationIdFor } from '../../lambdas/core/ids';
import type {
  Attempt,
  Notification,
  NotificationStatus,
  RenderedRequest,
} from '../../lambdas/core/model';
import { apiHandlerFor, drainQueue, storesFor } from '../support/api-harness';
import { client } from '../support/apigw';
import { webhookDefinition } from '../support/history';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();
const queued = (wait = 1) => drainQueue(standIns().clients.sqs, standIns().queueUrl, wait);
const api = () => client(apiHandlerFor(standIns()).handler);

const WH_A = 'wh_AAAAAAAAAAAAAAAAAAAAAAAAAA';
const WH_B = 'wh_BBBBBBBBBBBBBBBBBBBBBBBBBB';

interface Seed {
  id: string;
  webhookId: string;
  eventType: string;
  status: NotificationStatus;
  createdAt: string;
}

const seeds: Seed[] = [];
const failedAttempt: Attempt = {
  number: 1,
  trigger: 'initial',
  startedAt: '2026-11-28T10:00:00.100Z',
  durationMs: 12,
  statusCode: 500,
  outcome: 'FAILED',
  error: 'INVALID_HTTP_RESPONSE',
  responseBody: 'oops',
};
const request: RenderedRequest = {
  method: 'POST',
  url: 'https://ledger.example.com/loans/L-1',
  headers: { 'Content-Type': 'application/json', 'X-Branch': 'north' },
  body: '{"loan":"L-1"}',
};

beforeAll(async () => {
  const stores = storesFor(standIns());
  // Notifications exist only for webhooks that were created (lists across webhooks read theirs).
  for (const id of [WH_A, WH_B]) await stores.webhooks.put(webhookDefinition(id));
  // 12 notifications, one per minute from 10:00: A gets even minutes, B odd; statuses rotate.
  const statuses: NotificationStatus[] = [
    'FAILED',
    'SENT',
    'WAITING',
    'FAILED',
    'QUEUED',
    'FAILED',
  ];
  for (let i = 0; i < 12; i++) {
    const webhookId = i % 2 === 0 ? WH_A : WH_B;
    const eventId = `evt-${String(i).padStart(2, '0')}`;
    const status = statuses[i % statuses.length]!;
    const seed: Seed = {
      id: notificationIdFor(webhookId, eventId),
      webhookId,
      eventType: i < 6 ? 'LOAN_DISBURSEMENT' : 'LOAN_REPAID',
      status,
      createdAt: `2026-11-28T10:${String(i).padStart(2, '0')}:00.000Z`,
    };
    seeds.push(seed);
    const attempts =
      status === 'QUEUED'
        ? []
        : [
            {
              ...failedAttempt,
              ...(status === 'SENT'
                ? { statusCode: 200, outcome: 'SENT' as const, error: null }
                : {}),
            },
          ];
    const notification: Notification = {
      id: seed.id,
      webhookId,
      eventId,
      eventType: seed.eventType,
      createdAt: seed.createdAt,
      status,
      failureReason: status === 'FAILED' || status === 'WAITING' ? 'INVALID_HTTP_RESPONSE' : null,
      attempts,
      nextAttemptAt: status === 'WAITING' ? '2026-11-28T11:00:00.000Z' : null,
    };
    await stores.payloads.putOnce(
      seed.id,
      { ...request, url: `${request.url}?n=${i}` },
      2_000_000_000,
    );
    expect(await stores.notifications.create(notification, 2_000_000_000)).toBe(true);
  }
});

afterEach(async () => {
  await queued(0);
});

const newestFirst = (items: Seed[]) =>
  [...items].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((s) => s.id);

describe('listing notifications', () => {
  it('lists newest first with the default page size of 20 and no next cursor at the end', async () => {
    const res = await api().get('/notifications');
    expect(res.status).toBe(200);
    expect(res.body.items.map((n: { id: string }) => n.id)).toEqual(newestFirst(seeds));
    expect(res.body.nextCursor).toBeNull();
    const first = res.body.items[0];
    const seed = seeds[11]!;
    expect(first).toEqual({
      id: seed.id,
      webhookId: WH_B,
      eventId: 'evt-11',
      eventType: 'LOAN_REPAID',
      createdAt: seed.createdAt,
      status: 'FAILED',
      failureReason: 'INVALID_HTTP_RESPONSE',
      waitingReason: null,
      nextAttemptAt: null,
      attemptCount: 1,
    });
  });

  it('says why each WAITING notification waits, as its detail does', async () => {
    const res = await api().get('/notifications?status=WAITING');
    expect(res.status).toBe(200);
    const waiting = newestFirst(seeds.filter((s) => s.status === 'WAITING'));
    expect(waiting.length).toBeGreaterThan(0);
    expect(res.body.items.map((n: { id: string }) => n.id)).toEqual(waiting);
    for (const item of res.body.items) {
      expect(item).toMatchObject({ waitingReason: 'RETRY_SCHEDULED' });
      const detail = await api().get(`/notifications/${item.id}`);
      expect(detail.body.waitingReason).toBe('RETRY_SCHEDULED');
    }
  });

  it('treats empty filter values as no filter', async () => {
    const res = await api().get(
      '/notifications?webhookId=&status=&eventType=&from=&to=&limit=&cursor=',
    );
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(seeds.length);
  });

  it('pages with limit and an opaque cursor without gaps or repeats', async () => {
    const seen: string[] = [];
    let path = '/notifications?limit=5';
    for (let page = 0; page < 10; page++) {
      const res = await api().get(path);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(5);
      seen.push(...res.body.items.map((n: { id: string }) => n.id));
      if (res.body.nextCursor === null) break;
      path = `/notifications?limit=5&cursor=${encodeURIComponent(res.body.nextCursor)}`;
    }
    expect(seen).toEqual(newestFirst(seeds));
  });

  it.each([
    ['webhookId', `webhookId=${WH_A}`, (s: Seed) => s.webhookId === WH_A],
    ['status', 'status=FAILED', (s: Seed) => s.status === 'FAILED'],
    ['eventType', 'eventType=LOAN_REPAID', (s: Seed) => s.eventType === 'LOAN_REPAID'],
    [
      'from (inclusive) and to (exclusive)',
      'from=2026-11-28T10:03:00Z&to=2026-11-28T11:07:00%2B01:00',
      (s: Seed) => s.createdAt >= '2026-11-28T10:03' && s.createdAt < '2026-11-28T10:07',
    ],
    [
      'webhookId, status and a range together',
      `webhookId=${WH_B}&status=FAILED&from=2026-11-28T10:00:00Z&to=2026-11-28T10:10:00Z`,
      (s: Seed) =>
        s.webhookId === WH_B && s.status === 'FAILED' && s.createdAt < '2026-11-28T10:10',
    ],
  ])('filters by %s', async (_name, query, keep) => {
    const res = await api().get(`/notifications?${query}`);
    expect(res.status).toBe(200);
    const expected = newestFirst(seeds.filter(keep));
    expect(expected.length).toBeGreaterThan(0);
    expect(res.body.items.map((n: { id: string }) => n.id)).toEqual(expected);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['status=DONE', 'status'],
    ['from=yesterday', 'from'],
    ['from=2026-02-30T00:00:00Z', 'from'],
    ['from=2026-11-28T10:00:00', 'from'],
    ['from=2026-11-28T11:00:00Z&to=2026-11-28T10:00:00Z', 'to'],
    ['from=2026-11-28T10:00:00Z&to=2026-11-28T11:00:00%2B01:00', 'to'],
    ['colour=red', 'colour'],
    ['status=SENT&status=FAILED', 'status'],
    [`webhookId=wh_${'A'.repeat(254)}`, 'webhookId'],
    [`eventType=${'E'.repeat(257)}`, 'eventType'],
  ])('answers 400 VALIDATION_ERROR for %s', async (query, path) => {
    const res = await api().get(`/notifications?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it.each(['not!a!cursor', 'x'.repeat(9000), Buffer.from('{"v":1}').toString('base64url')])(
    'answers 400 INVALID_CURSOR for a cursor that cannot be one (%#)',
    async (cursor) => {
      const res = await api().get(`/notifications?cursor=${cursor}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_CURSOR');
      expect(res.body.error.details[0].path).toBe('cursor');
    },
  );

  it('answers 400 INVALID_CURSOR for a cursor forged with everything but the installation key', async () => {
    // What a client can learn from a real cursor: its layout and the checksum over it. A forged
    // position over 1 KiB would reach DynamoDB (sort keys are at most 1,024 bytes) if accepted.
    const real = JSON.parse(
      Buffer.from(
        ((await api().get('/notifications?limit=2')).body.nextCursor as string).split('.')[0]!,
        'base64url',
      ).toString('utf8'),
    );
    const body = { ...real, k: `2026-11-28T10:00:00.000Z#${'A'.repeat(1100)}` };
    const c = createHash('sha256').update(JSON.stringify(body)).digest('base64url').slice(0, 22);
    const forged = Buffer.from(JSON.stringify({ ...body, c })).toString('base64url');
    const res = await api().get(`/notifications?limit=2&cursor=${forged}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_CURSOR');
  });

  it('answers 400 for a tampered cursor', async () => {
    const page = await api().get('/notifications?limit=2');
    const cursor = page.body.nextCursor as string;
    const decoded = Buffer.from(cursor.split('.')[0]!, 'base64url').toString('utf8');
    const tampered = Buffer.from(
      decoded.replace(/10:/g, '09:').replace(/"/, '"x'),
      'utf8',
    ).toString('base64url');
    const res = await api().get(`/notifications?limit=2&cursor=${tampered}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_CURSOR');
    expect(res.body.error.details[0].path).toBe('cursor');
    const otherQuery = await api().get(`/notifications?limit=2&status=SENT&cursor=${cursor}`);
    expect(otherQuery.status).toBe(400);
    expect(otherQuery.body.error.code).toBe('INVALID_CURSOR');
  });
});

describe('reading one notification', () => {
  it('returns the record with its stored request and attempts', async () => {
    const seed = seeds[2]!;
    const res = await api().get(`/notifications/${seed.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: seed.id,
      webhookId: WH_A,
      eventId: 'evt-02',
      eventType: 'LOAN_DISBURSEMENT',
      createdAt: seed.createdAt,
      status: 'WAITING',
      failureReason: 'INVALID_HTTP_RESPONSE',
      failureDetail: null,
      waitingReason: 'RETRY_SCHEDULED',
      request: { ...request, url: `${request.url}?n=2` },
      attempts: [failedAttempt],
      nextAttemptAt: '2026-11-28T11:00:00.000Z',
    });
  });

  it('answers 404 for an unknown id; /notifications/resend is not an id', async () => {
    const res = await api().get('/notifications/ntf_NOPE');
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({
      code: 'NOT_FOUND',
      message: 'Notification ntf_NOPE not found.',
      details: [],
    });
    expect((await api().get('/notifications/resend')).status).toBe(404);
  });
});

describe('resending one notification', () => {
  it('queues a resend job and answers 202', async () => {
    const seed = seeds[0]!;
    const res = await api().post(`/notifications/${seed.id}/resend`);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ notificationId: seed.id, queued: true });
    // The webhook rides along: it is the job's SQS message group (fair queues).
    expect(await queued()).toEqual([
      {
        kind: 'resend',
        notificationId: seed.id,
        webhookId: seed.webhookId,
        // Its own id: a repeated delivery of this job is known and sends nothing again.
        resendId: expect.stringMatching(/^job_/),
      },
    ]);
  });

  it('takes no input: an empty object is accepted, any other body is a 400 and queues nothing', async () => {
    const seed = seeds[0]!;
    const path = `/notifications/${seed.id}/resend`;

    const empty = await api().post(path, {});
    const blank = await api().post(path, '   ');
    expect(empty.status).toBe(202);
    expect(blank.status).toBe(202);
    expect(await queued()).toHaveLength(2);

    for (const [body, paths] of [
      [[1], ['']],
      [{ x: 1 }, ['x']],
      [{ ids: [seed.id], force: true }, ['ids', 'force']],
      ['null', ['']],
      ['"resend"', ['']],
      ['1', ['']],
    ] as const) {
      const res = await api().post(path, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(paths);
    }
    expect(await queued(0)).toEqual([]);
  });

  it('answers 404 for an unknown notification and queues nothing', async () => {
    const res = await api().post('/notifications/ntf_NOPE/resend');
    expect(res.status).toBe(404);
    expect(await queued()).toEqual([]);
  });
});

describe('bulk resend by ids', () => {
  it('creates a job, queues one resend per id carrying the job id, and reports progress', async () => {
    const ids = [seeds[0]!.id, seeds[3]!.id, seeds[5]!.id];
    const res = await api().post('/notifications/resend', { ids });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId: expect.stringMatching(/^job_/), count: 3 });
    const jobs = await queued();
    expect(jobs).toHaveLength(3);
    expect(new Set(jobs)).toEqual(
      new Set(
        ids.map((notificationId) => ({
          kind: 'resend',
          notificationId,
          webhookId: seeds.find((s) => s.id === notificationId)?.webhookId,
          jobId: res.body.jobId,
        })),
      ),
    );
    const status = await api().get(`/notifications/resend/${res.body.jobId}`);
    expect(status.status).toBe(200);
    expect(status.body).toEqual({
      jobId: res.body.jobId,
      count: 3,
      queued: 3,
      sent: 0,
      failed: 0,
      erased: 0,
      createdAt: expect.any(String),
    });
  });

  it('answers 404 naming unknown ids by index, and queues nothing', async () => {
    const res = await api().post('/notifications/resend', {
      ids: [seeds[0]!.id, 'ntf_GONE', seeds[1]!.id, 'ntf_ALSO'],
    });
    expect(res.status).toBe(404);
    expect(res.body.error.details).toEqual([
      { index: 1, path: 'ids[1]', message: 'notification ntf_GONE not found' },
      { index: 3, path: 'ids[3]', message: 'notification ntf_ALSO not found' },
    ]);
    expect(await queued()).toEqual([]);
  });

  it('looks up as many as 1000 ids (unknown ones are a 404 naming each), and queues nothing', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `ntf_${i}`);
    const res = await api().post('/notifications/resend', { ids });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    expect(res.body.error.details).toHaveLength(1000);
    expect(res.body.error.details[999]).toEqual({
      index: 999,
      path: 'ids[999]',
      message: 'notification ntf_999 not found',
    });
    expect(await queued(0)).toEqual([]);
  });

  it.each([
    ['an empty list', { ids: [] }, 'ids'],
    ['more than 1000 ids', { ids: Array.from({ length: 1001 }, (_, i) => `ntf_${i}`) }, 'ids'],
    ['a repeated id', { ids: ['ntf_1', 'ntf_1'] }, 'ids[1]'],
    ['a non-string id', { ids: [7] }, 'ids[0]'],
    ['ids mixed with a range', { ids: ['ntf_1'], from: '2026-11-28T10:00:00Z' }, 'from'],
    ['an empty range', { from: '2026-11-28T10:00:00Z', to: '2026-11-28T11:00:00+01:00' }, 'to'],
    ['an unknown field', { ids: ['ntf_1'], force: true }, 'force'],
    ['neither ids nor a range', {}, 'from'],
  ])('answers 400 for %s, queuing nothing', async (_name, body, path) => {
    const res = await api().post('/notifications/resend', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    expect(await queued(0)).toEqual([]);
  });

  it('answers 415 and INVALID_JSON at the edge', async () => {
    expect(
      (await api().post('/notifications/resend', 'ids=1', { contentType: 'text/plain' })).status,
    ).toBe(415);
    expect((await api().post('/notifications/resend', '{"ids": [')).body.error.code).toBe(
      'INVALID_JSON',
    );
  });
});

describe('bulk resend by range', () => {
  it('counts the FAILED notifications in the range by default and queues one resendQuery job', async () => {
    const from = '2026-11-28T10:00:00Z';
    const to = '2026-11-28T10:09:00Z';
    const res = await api().post('/notifications/resend', { from, to });
    expect(res.status).toBe(202);
    const expected = seeds.filter(
      (s) => s.status === 'FAILED' && s.createdAt < '2026-11-28T10:09',
    ).length;
    expect(res.body).toEqual({ jobId: expect.stringMatching(/^job_/), count: expected });
    expect(await queued()).toEqual([
      {
        kind: 'resendQuery',
        jobId: res.body.jobId,
        query: {
          from: '2026-11-28T10:00:00.000Z',
          to: '2026-11-28T10:09:00.000Z',
          status: 'FAILED',
        },
      },
    ]);
    const job = await api().get(`/notifications/resend/${res.body.jobId}`);
    expect(job.body).toMatchObject({ count: expected, queued: 0, sent: 0, failed: 0 });
  });

  it('filters by webhookId and status', async () => {
    const res = await api().post('/notifications/resend', {
      from: '2026-11-28T00:00:00Z',
      to: '2026-11-29T00:00:00Z',
      webhookId: WH_A,
      status: 'WAITING',
    });
    expect(res.status).toBe(202);
    const expected = seeds.filter((s) => s.webhookId === WH_A && s.status === 'WAITING').length;
    expect(expected).toBe(2);
    expect(res.body.count).toBe(expected);
    const [job] = await queued();
    expect(job).toMatchObject({
      kind: 'resendQuery',
      query: { webhookId: WH_A, status: 'WAITING' },
    });
  });

  it('creates an empty job and queues nothing when nothing matches', async () => {
    const res = await api().post('/notifications/resend', {
      from: '2025-01-01T00:00:00Z',
      to: '2025-01-02T00:00:00Z',
    });
    expect(res.status).toBe(202);
    expect(res.body.count).toBe(0);
    expect(await queued()).toEqual([]);
    expect((await api().get(`/notifications/resend/${res.body.jobId}`)).body).toMatchObject({
      count: 0,
      queued: 0,
    });
  });

  it.each([
    ['to before from', { from: '2026-11-28T11:00:00Z', to: '2026-11-28T10:00:00Z' }, 'to'],
    ['a bad date', { from: 'last week', to: '2026-11-28T10:00:00Z' }, 'from'],
    ['a missing to', { from: '2026-11-28T10:00:00Z' }, 'to'],
    [
      'an unknown status',
      { from: '2026-11-28T10:00:00Z', to: '2026-11-28T11:00:00Z', status: 'LOST' },
      'status',
    ],
  ])('answers 400 for %s', async (_name, body, path) => {
    const res = await api().post('/notifications/resend', body);
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });
});

describe('ids that are not notification ids', () => {
  it('never reach a resend job stored in the same table', async () => {
    const job = await api().post('/notifications/resend', { ids: [seeds[0]!.id] });
    await queued();
    const asNotification = encodeURIComponent(`job#${job.body.jobId}`);
    expect((await api().get(`/notifications/${asNotification}`)).status).toBe(404);
    expect((await api().post(`/notifications/${asNotification}/resend`)).status).toBe(404);
    const bulk = await api().post('/notifications/resend', { ids: [`job#${job.body.jobId}`] });
    expect(bulk.status).toBe(404);
    expect(await queued(0)).toEqual([]);
  });
});

describe('resend job status', () => {
  it('answers 404 for an unknown job', async () => {
    const res = await api().get('/notifications/resend/job_NOPE');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });
});
