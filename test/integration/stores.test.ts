/**
 * One contract for both store implementations (DynamoDB Local and memory), so they cannot drift.
 * Each test gets fresh tables (DynamoDB) or fresh maps (memory).
 */

import { shardOf } from '../../lambdas/adapters/dynamo-listing';
import { NOTIFICATION_INDEX_SHARDS } from '../../lambdas/adapters/dynamo-schema';
import {
  DynamoNotificationStore,
  DynamoPayloadStore,
  DynamoResendJobStore,
  DynamoWebhookStore,
} from '../../lambdas/adapters/dynamo-stores';
import { ConflictError, InvalidCursorError } from '../../lambdas/core/errors';
import type { Notification, NotificationStatus, WebhookDefinition } from '../../lambdas/core/model';
import type {
  NotificationQuery,
  NotificationStore,
  PayloadStore,
  ResendJobStore,
  WebhookStore,
} from '../../lambdas/ports';
import { createTables, standInCipher } from '../../local/standins';
import { TEST_CURSOR_KEY } from '../support/cursor-key';
import { attempt, newestFirst, notification, summaryOf, walk } from '../support/history';
import {
  MemoryDeliveryQueue,
  MemoryNotificationStore,
  MemoryPayloadStore,
  MemoryResendJobStore,
  MemoryWebhookStore,
} from '../support/memory-stores';
import { type StandIns, useStandIns } from '../support/standins';

interface Stores {
  webhooks: WebhookStore;
  notifications: NotificationStore;
  payloads: PayloadStore;
  jobs: ResendJobStore;
}

const EXPIRES = 2_000_000_000;
let tableCounter = 0;

async function dynamoStores(standIns: StandIns): Promise<Stores> {
  tableCounter += 1;
  const names = {
    webhooks: `c${tableCounter}-webhooks`,
    notifications: `c${tableCounter}-notifications`,
    payloads: `c${tableCounter}-payloads`,
    eventTypes: `c${tableCounter}-event-types`,
  };
  const { dynamo } = standIns.clients;
  await createTables(dynamo, names);
  const webhooks = new DynamoWebhookStore(dynamo, names.webhooks, standInCipher(standIns));
  return {
    webhooks,
    notifications: new DynamoNotificationStore(
      dynamo,
      names.notifications,
      TEST_CURSOR_KEY,
      webhooks,
    ),
    payloads: new DynamoPayloadStore(dynamo, names.payloads),
    jobs: new DynamoResendJobStore(dynamo, names.notifications),
  };
}

function memoryStores(): Stores {
  const webhooks = new MemoryWebhookStore();
  return {
    webhooks,
    notifications: new MemoryNotificationStore(undefined, webhooks),
    payloads: new MemoryPayloadStore(),
    jobs: new MemoryResendJobStore(),
  };
}

function definition(id: string, overrides: Partial<WebhookDefinition> = {}): WebhookDefinition {
  return {
    id,
    name: `hook ${id}`,
    events: ['LOAN_DISBURSEMENT', '*'],
    enabled: true,
    method: 'POST',
    url: 'https://example.com/{{ data.loanId }}',
    contentType: 'application/json',
    headers: { 'X-Branch': '{{ data.branch }}' },
    body: '{"loan": {{ data.loanId | json }}}',
    version: 1,
    createdAt: '2026-11-28T10:00:00.000Z',
    updatedAt: '2026-11-28T10:00:00.000Z',
    ...overrides,
  };
}

/** A spread of notifications over webhooks, statuses, event types, shards and instants (some equal). */
function population(count: number): Notification[] {
  const statuses: NotificationStatus[] = ['QUEUED', 'WAITING', 'SENT', 'FAILED'];
  const base = Date.parse('2026-11-28T08:00:00.000Z');
  return Array.from({ length: count }, (_, i) => {
    // Every third one shares its instant with the one before: ties are ordered by id.
    const second = i - (i % 3 === 2 ? 1 : 0);
    const status = statuses[(i * 7) % 4]!;
    return notification(`ntf_${String((i * 7919) % 1000).padStart(3, '0')}_${i}`, {
      webhookId: i % 3 === 0 ? 'wh_b' : 'wh_a',
      eventType: i % 4 === 0 ? 'LOAN_REPAID' : 'LOAN_DISBURSEMENT',
      createdAt: new Date(base + second * 60_000).toISOString(),
      status,
      failureReason: status === 'FAILED' ? 'TIMEOUT' : null,
      nextAttemptAt: status === 'WAITING' ? '2026-11-28T12:00:00.000Z' : null,
    });
  });
}

/** The webhooks the notifications below belong to: lists across webhooks read theirs. */
async function registerWebhooks(stores: Stores): Promise<void> {
  for (const id of ['wh_a', 'wh_b']) await stores.webhooks.put(definition(id));
}

async function seed(store: NotificationStore, items: readonly Notification[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    const created = await Promise.all(items.slice(i, i + 25).map((n) => store.create(n, EXPIRES)));
    expect(created.every(Boolean)).toBe(true);
  }
}

describe.each(['memory', 'dynamo'] as const)('stores contract (%s)', (kind) => {
  const standIns = kind === 'dynamo' ? useStandIns() : undefined;
  let stores: Stores;
  beforeEach(async () => {
    stores = standIns ? await dynamoStores(standIns()) : memoryStores();
  });

  describe('webhooks', () => {
    it('creates a definition once and returns it unchanged, optional fields included', async () => {
      const withSecrets = definition('wh_1', {
        auth: { type: 'basic', username: 'svc', password: 'pw' },
        signingSecret: 'whsec_abc',
        strict: true,
      });
      await stores.webhooks.put(withSecrets);
      await stores.webhooks.put(definition('wh_2'));

      expect(await stores.webhooks.get('wh_1')).toEqual(withSecrets);
      const plain = await stores.webhooks.get('wh_2');
      expect(plain).toEqual(definition('wh_2'));
      expect(plain && 'auth' in plain).toBe(false);
      await expect(
        stores.webhooks.put(definition('wh_1', { name: 'other' })),
      ).rejects.toBeInstanceOf(ConflictError);
      expect((await stores.webhooks.get('wh_1'))?.name).toBe('hook wh_1');
      expect(await stores.webhooks.get('wh_missing')).toBeUndefined();
    });

    it('replaces only at the expected version', async () => {
      await stores.webhooks.put(definition('wh_1'));
      await stores.webhooks.put(definition('wh_1', { name: 'v2', version: 2 }), 1);
      await expect(
        stores.webhooks.put(definition('wh_1', { name: 'stale', version: 2 }), 1),
      ).rejects.toBeInstanceOf(ConflictError);
      await expect(
        stores.webhooks.put(definition('wh_none', { version: 2 }), 1),
      ).rejects.toBeInstanceOf(ConflictError);
      expect(await stores.webhooks.get('wh_1')).toEqual(
        definition('wh_1', { name: 'v2', version: 2 }),
      );
      expect(await stores.webhooks.get('wh_none')).toBeUndefined();
    });

    it('turns a definition off only at the expected version, its secrets kept, the revision bumped', async () => {
      const withSecrets = definition('wh_1', {
        auth: { type: 'basic', username: 'svc', password: 'pw' },
        signingSecret: 'whsec_abc',
      });
      await stores.webhooks.put(withSecrets);
      await stores.webhooks.put(definition('wh_2'));
      const revision = await stores.webhooks.revision();
      const at = '2026-12-04T06:00:00.000Z';

      await stores.webhooks.disable('wh_1', 1, at);
      expect(await stores.webhooks.get('wh_1')).toEqual({
        ...withSecrets,
        enabled: false,
        version: 2,
        updatedAt: at,
      });
      expect(await stores.webhooks.revision()).toBe(revision + 1);

      // Changed since, never created, or deleted: a conflict, and nothing written.
      await expect(stores.webhooks.disable('wh_1', 1, at)).rejects.toBeInstanceOf(ConflictError);
      await expect(stores.webhooks.disable('wh_none', 1, at)).rejects.toBeInstanceOf(ConflictError);
      await stores.webhooks.delete('wh_2');
      await expect(stores.webhooks.disable('wh_2', 1, at)).rejects.toBeInstanceOf(ConflictError);
      expect(await stores.webhooks.get('wh_2')).toBeUndefined();
      expect(await stores.webhooks.get('wh_none')).toBeUndefined();
      expect(await stores.webhooks.revision()).toBe(revision + 2);
    });

    it('lists every definition and deletes, reporting whether it existed', async () => {
      const ids = Array.from({ length: 12 }, (_, i) => `wh_${i}`);
      await Promise.all(ids.map((id) => stores.webhooks.put(definition(id))));
      expect((await stores.webhooks.list()).map((d) => d.id).sort()).toEqual([...ids].sort());

      expect(await stores.webhooks.delete('wh_3')).toBe(true);
      expect(await stores.webhooks.delete('wh_3')).toBe(false);
      expect(await stores.webhooks.get('wh_3')).toBeUndefined();
      expect(await stores.webhooks.list()).toHaveLength(11);
    });
  });

  describe('payloads', () => {
    it('stores a request once; a second write leaves the first untouched', async () => {
      const first = {
        method: 'PUT' as const,
        url: 'https://example.com/a',
        headers: { 'Content-Type': 'application/json', 'X-Empty': '' },
        body: '{"ü":"€"}',
      };
      expect(await stores.payloads.putOnce('ntf_1', first, EXPIRES)).toBe('created');
      expect(
        await stores.payloads.putOnce('ntf_1', { ...first, body: '{"other":1}' }, EXPIRES),
      ).toBe('exists');
      expect(await stores.payloads.get('ntf_1')).toEqual(first);
      expect(await stores.payloads.get('ntf_2')).toBeUndefined();
    });

    it('keeps an empty body and no headers', async () => {
      const request = {
        method: 'POST' as const,
        url: 'https://example.com/',
        headers: {},
        body: '',
      };
      await stores.payloads.putOnce('ntf_e', request, EXPIRES);
      expect(await stores.payloads.get('ntf_e')).toEqual(request);
    });
  });

  describe('notifications', () => {
    beforeEach(() => registerWebhooks(stores));

    it('creates once: a repeated create reports false and keeps the first record', async () => {
      const first = notification('ntf_1', {
        attempts: [attempt(1)],
        status: 'WAITING',
        nextAttemptAt: '2026-11-28T10:01:00.000Z',
      });
      expect(await stores.notifications.create(first, EXPIRES)).toBe(true);
      expect(
        await stores.notifications.create({ ...first, status: 'SENT', attempts: [] }, EXPIRES),
      ).toBe(false);
      expect(await stores.notifications.get('ntf_1')).toEqual(first);
      expect(await stores.notifications.get('ntf_none')).toBeUndefined();
    });

    it('keeps the failure detail of a notification settled without an attempt', async () => {
      const settled = notification('ntf_t', {
        status: 'FAILED',
        failureReason: 'TEMPLATE_ERROR',
        failureDetail: 'missing variable data.x',
      });
      await stores.notifications.create(settled, EXPIRES);
      expect(await stores.notifications.get('ntf_t')).toEqual(settled);
    });

    it('records attempt n only on top of n - 1 attempts, once', async () => {
      await stores.notifications.create(
        notification('ntf_1', { attempts: [attempt(1)], status: 'WAITING' }),
        EXPIRES,
      );
      const update = { status: 'SENT' as const, failureReason: null, nextAttemptAt: null };

      expect(await stores.notifications.recordAttempt('ntf_1', attempt(3), update)).toBe(false);
      expect(await stores.notifications.recordAttempt('ntf_1', attempt(2, 'SENT'), update)).toBe(
        true,
      );
      expect(await stores.notifications.recordAttempt('ntf_1', attempt(2, 'SENT'), update)).toBe(
        false,
      );
      expect(await stores.notifications.recordAttempt('ntf_none', attempt(1), update)).toBe(false);

      const stored = await stores.notifications.get('ntf_1');
      expect(stored?.attempts).toEqual([attempt(1), attempt(2, 'SENT')]);
      expect(stored?.status).toBe('SENT');
      expect(await stores.notifications.get('ntf_none')).toBeUndefined();
    });

    it('stores a whole attempt list in place of appending, under the same condition', async () => {
      await stores.notifications.create(
        notification('ntf_1', { attempts: [attempt(1), attempt(2)], status: 'WAITING' }),
        EXPIRES,
      );
      const update = { status: 'WAITING' as const, failureReason: null, nextAttemptAt: null };
      const without = { ...attempt(2), responseBody: null };
      const list = [attempt(1), without, attempt(3)];

      // Attempt 3 on top of 2 attempts only: a stale list is refused like a stale append.
      expect(await stores.notifications.recordAttempt('ntf_1', attempt(4), update, list)).toBe(
        false,
      );
      expect(await stores.notifications.recordAttempt('ntf_1', attempt(3), update, list)).toBe(
        true,
      );
      expect((await stores.notifications.get('ntf_1'))?.attempts).toEqual(list);
      // The count moved with it: the next append is attempt 4.
      expect(await stores.notifications.recordAttempt('ntf_1', attempt(3), update)).toBe(false);
      expect(await stores.notifications.recordAttempt('ntf_1', attempt(4), update)).toBe(true);
      expect((await stores.notifications.get('ntf_1'))?.attempts).toEqual([...list, attempt(4)]);
    });

    it('lets exactly one of concurrent duplicates record the same attempt', async () => {
      await stores.notifications.create(notification('ntf_1'), EXPIRES);
      const update = {
        status: 'WAITING' as const,
        failureReason: null,
        nextAttemptAt: '2026-11-28T10:05:00.000Z',
      };
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          stores.notifications.recordAttempt('ntf_1', attempt(1), update),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await stores.notifications.get('ntf_1'))?.attempts).toHaveLength(1);
    });

    it('changes status only from the expected status', async () => {
      await stores.notifications.create(
        notification('ntf_1', { status: 'WAITING', nextAttemptAt: '2026-11-28T10:05:00.000Z' }),
        EXPIRES,
      );
      const failed = {
        status: 'FAILED' as const,
        failureReason: 'TIMEOUT' as const,
        nextAttemptAt: null,
      };

      expect(await stores.notifications.setStatus('ntf_1', failed, 'QUEUED')).toBe(false);
      expect((await stores.notifications.get('ntf_1'))?.status).toBe('WAITING');
      expect(await stores.notifications.setStatus('ntf_1', failed, 'WAITING')).toBe(true);
      expect(await stores.notifications.get('ntf_1')).toMatchObject(failed);
      expect(await stores.notifications.setStatus('ntf_none', failed)).toBe(false);
      expect(await stores.notifications.get('ntf_none')).toBeUndefined();
    });

    it('lists summaries newest first and moves a notification between status lists when its status changes', async () => {
      const older = notification('ntf_old', {
        createdAt: '2026-11-28T09:00:00.000Z',
        attempts: [attempt(1)],
        status: 'WAITING',
      });
      const newer = notification('ntf_new', { createdAt: '2026-11-28T09:30:00.000Z' });
      await seed(stores.notifications, [older, newer]);

      expect((await stores.notifications.list({ limit: 10 })).items).toEqual([
        summaryOf(newer),
        summaryOf(older),
      ]);

      await stores.notifications.recordAttempt('ntf_old', attempt(2, 'SENT'), {
        status: 'SENT',
        failureReason: null,
        nextAttemptAt: null,
      });
      const waiting = await stores.notifications.list({ status: 'WAITING', limit: 10 });
      const sent = await stores.notifications.list({ status: 'SENT', limit: 10 });
      expect(waiting).toEqual({ items: [], nextCursor: null });
      expect(sent.items.map((s) => [s.id, s.attemptCount, s.status])).toEqual([
        ['ntf_old', 2, 'SENT'],
      ]);
    });

    it('applies from inclusively and to exclusively, also with a date-time written without milliseconds', async () => {
      const at = (t: string, id: string) => notification(id, { createdAt: t });
      await seed(stores.notifications, [
        at('2026-11-28T09:59:59.999Z', 'ntf_before'),
        at('2026-11-28T10:00:00.000Z', 'ntf_from'),
        at('2026-11-28T10:30:00.000Z', 'ntf_mid'),
        at('2026-11-28T11:00:00.000Z', 'ntf_to'),
      ]);
      const ids = async (q: Omit<NotificationQuery, 'limit'>) =>
        (await stores.notifications.list({ ...q, limit: 10 })).items.map((i) => i.id);

      expect(await ids({ from: '2026-11-28T10:00:00Z', to: '2026-11-28T11:00:00Z' })).toEqual([
        'ntf_mid',
        'ntf_from',
      ]);
      expect(await ids({ webhookId: 'wh_a', from: '2026-11-28T10:00:00.000Z' })).toEqual([
        'ntf_to',
        'ntf_mid',
        'ntf_from',
      ]);
      expect(await ids({ status: 'QUEUED', to: '2026-11-28T10:00:00.000Z' })).toEqual([
        'ntf_before',
      ]);
      expect(await ids({ from: '2026-11-28T11:00:00Z', to: '2026-11-28T10:00:00Z' })).toEqual([]);
    });

    it('refuses a from or to that is not a date-time', async () => {
      await expect(
        stores.notifications.list({ from: 'yesterday', limit: 5 }),
      ).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    });

    describe('pagination over shards', () => {
      const all = population(45);
      beforeEach(async () => {
        await seed(stores.notifications, all);
      });

      it('spreads the test population over every shard', () => {
        expect(new Set(all.map((n) => shardOf(n.id))).size).toBe(NOTIFICATION_INDEX_SHARDS);
      });

      const cases: {
        name: string;
        query: Omit<NotificationQuery, 'cursor' | 'limit'>;
        keep: (n: Notification) => boolean;
        limits: number[];
      }[] = [
        { name: 'no filter', query: {}, keep: () => true, limits: [1, 4, 10, 45, 60] },
        {
          name: 'webhook',
          query: { webhookId: 'wh_a' },
          keep: (n) => n.webhookId === 'wh_a',
          limits: [1, 2, 7, 30],
        },
        {
          name: 'status',
          query: { status: 'WAITING' },
          keep: (n) => n.status === 'WAITING',
          limits: [1, 3, 11],
        },
        {
          name: 'event type',
          query: { eventType: 'LOAN_REPAID' },
          keep: (n) => n.eventType === 'LOAN_REPAID',
          limits: [1, 5],
        },
        {
          name: 'webhook, status and event type',
          query: { webhookId: 'wh_a', status: 'SENT', eventType: 'LOAN_DISBURSEMENT' },
          keep: (n) =>
            n.webhookId === 'wh_a' && n.status === 'SENT' && n.eventType === 'LOAN_DISBURSEMENT',
          limits: [1, 2, 4],
        },
        {
          name: 'webhook and time range',
          query: {
            webhookId: 'wh_b',
            from: '2026-11-28T08:05:00.000Z',
            to: '2026-11-28T08:30:00.000Z',
          },
          keep: (n) =>
            n.webhookId === 'wh_b' &&
            n.createdAt >= '2026-11-28T08:05:00.000Z' &&
            n.createdAt < '2026-11-28T08:30:00.000Z',
          limits: [1, 3],
        },
        {
          name: 'status and time range',
          query: {
            status: 'FAILED',
            from: '2026-11-28T08:10:00.000Z',
            to: '2026-11-28T08:40:00.000Z',
          },
          keep: (n) =>
            n.status === 'FAILED' &&
            n.createdAt >= '2026-11-28T08:10:00.000Z' &&
            n.createdAt < '2026-11-28T08:40:00.000Z',
          limits: [1, 2],
        },
      ];

      it.each(cases)(
        'walks every page of "$name" without skipping or repeating, at several page sizes',
        async ({ query, keep, limits }) => {
          const expected = all.filter(keep).sort(newestFirst).map(summaryOf);
          expect(expected.length).toBeGreaterThan(2);
          for (const limit of limits) {
            const { items, pages } = await walk(stores.notifications, { ...query, limit });
            expect(items).toEqual(expected);
            expect(pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
          }
        },
      );

      it('continues a walk after an item already returned changed status', async () => {
        const expected = all.filter((n) => n.webhookId === 'wh_a').sort(newestFirst);
        const first = await stores.notifications.list({ webhookId: 'wh_a', limit: 5 });
        const moved = first.items[4]!;
        const settled = {
          status: 'FAILED' as const,
          failureReason: 'TIMEOUT' as const,
          nextAttemptAt: null,
        };
        expect(await stores.notifications.setStatus(moved.id, settled)).toBe(true);

        const rest = await walk(stores.notifications, {
          webhookId: 'wh_a',
          limit: 5,
          cursor: first.nextCursor!,
        });
        expect([...first.items, ...rest.items].map((i) => i.id)).toEqual(expected.map((n) => n.id));
      });

      it.each([
        {
          name: 'webhook',
          query: { webhookId: 'wh_a' },
          keep: (n: Notification) => n.webhookId === 'wh_a',
        },
        {
          name: 'status',
          query: { status: 'WAITING' as const },
          keep: (n: Notification) => n.status === 'WAITING',
        },
        { name: 'no filter', query: {}, keep: () => true },
      ])(
        'lists every notification of "$name" once, in order, when others arrive between pages, at the cursor\'s instant included',
        async ({ query, keep }) => {
          const first = await stores.notifications.list({ ...query, limit: 4 });
          const boundary = first.items.at(-1)!;
          // Arriving now, in every shard: newer than the whole walk, at the instant of the last
          // item returned (ids above and below it), and older than the cursor (a record written
          // late: createdAt is when its first delivery started).
          const late = Array.from({ length: 3 * NOTIFICATION_INDEX_SHARDS }, (_, i) => {
            const kind = i % 3;
            const createdAt =
              kind === 0
                ? '2026-11-28T09:30:00.000Z'
                : kind === 1
                  ? boundary.createdAt
                  : '2026-11-28T07:30:00.000Z';
            return notification(
              `ntf_late_${String(i).padStart(2, '0')}_${kind === 1 ? (i % 2 ? '0' : 'z') : 'm'}`,
              {
                webhookId: 'wh_a',
                createdAt,
                status: 'WAITING',
                nextAttemptAt: '2026-11-28T12:00:00.000Z',
              },
            );
          });
          await seed(stores.notifications, late);

          const rest = await walk(stores.notifications, {
            ...query,
            limit: 4,
            cursor: first.nextCursor!,
          });

          const listed = [...first.items, ...rest.items].map((i) => i.id);
          const lateIds = new Set(late.map((n) => n.id));
          // Every notification that existed when the walk began, once and newest first.
          expect(listed.filter((id) => !lateIds.has(id))).toEqual(
            all
              .filter(keep)
              .sort(newestFirst)
              .map((n) => n.id),
          );
          // Nothing twice, and of those that arrived later none at or above the cursor (they
          // would be out of order); those below it come in order. Whether a late one below the
          // cursor is listed depends on its partition (README "Listing the history").
          expect(new Set(listed).size).toBe(listed.length);
          const boundaryKey = `${boundary.createdAt}#${boundary.id}`;
          const above = late.filter((n) => `${n.createdAt}#${n.id}` >= boundaryKey);
          expect(above.filter(keep).length).toBeGreaterThan(0);
          for (const n of above) expect(listed).not.toContain(n.id);
          const keyOf = new Map([...all, ...late].map((n) => [n.id, `${n.createdAt}#${n.id}`]));
          const keys = listed.map((id) => keyOf.get(id)!);
          expect(keys).toEqual([...keys].sort().reverse());
        },
      );

      it('refuses a tampered, undecodable, unsigned or foreign cursor with INVALID_CURSOR', async () => {
        const page = await stores.notifications.list({ status: 'SENT', limit: 2 });
        const cursor = page.nextCursor!;
        const [body, mac] = cursor.split('.') as [string, string];
        const decoded = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
        decoded.k = '2099-01-01T00:00:00.000Z#ntf_x';
        const edited = `${Buffer.from(JSON.stringify(decoded)).toString('base64url')}.${mac}`;
        const flipped = cursor.slice(0, 10) + (cursor[10] === 'A' ? 'B' : 'A') + cursor.slice(11);

        for (const bad of [
          edited,
          flipped,
          body,
          'not a cursor!',
          Buffer.from('{"v":1}').toString('base64url'),
          '',
        ]) {
          const error = await stores.notifications
            .list({ status: 'SENT', limit: 2, cursor: bad })
            .catch((e: unknown) => e);
          expect(error).toBeInstanceOf(InvalidCursorError);
          expect((error as InvalidCursorError).code).toBe('INVALID_CURSOR');
          expect((error as InvalidCursorError).message).toMatch(/cursor/);
        }
        const foreign = await stores.notifications
          .list({ status: 'FAILED', limit: 2, cursor })
          .catch((e: unknown) => e);
        expect(foreign).toBeInstanceOf(InvalidCursorError);
        expect((foreign as InvalidCursorError).message).toMatch(/different query/);
        // The same query at another page size accepts it.
        expect(
          (await stores.notifications.list({ status: 'SENT', limit: 3, cursor })).items,
        ).toHaveLength(3);
      });
    });
  });

  describe('resend jobs', () => {
    beforeEach(() => registerWebhooks(stores));

    it('creates a job once, counts concurrent increments exactly and ignores increments of unknown jobs', async () => {
      const job = {
        jobId: 'job_1',
        count: 30,
        queued: 0,
        sent: 0,
        failed: 0,
        createdAt: '2026-11-28T10:00:00.000Z',
      };
      await stores.jobs.create(job);
      await expect(stores.jobs.create(job)).rejects.toBeInstanceOf(ConflictError);

      await Promise.all([
        ...Array.from({ length: 10 }, () => stores.jobs.increment('job_1', { queued: 3 })),
        ...Array.from({ length: 7 }, () => stores.jobs.increment('job_1', { sent: 1 })),
        ...Array.from({ length: 4 }, () => stores.jobs.increment('job_1', { failed: 1, sent: 0 })),
      ]);
      await stores.jobs.increment('job_missing', { sent: 1 });

      expect(await stores.jobs.get('job_1')).toEqual({
        ...job,
        queued: 30,
        sent: 7,
        failed: 4,
        erased: 0,
      });
      expect(await stores.jobs.get('job_missing')).toBeUndefined();
    });

    it('keeps jobs out of notification lists and lookups', async () => {
      await stores.jobs.create({
        jobId: 'job_2',
        count: 1,
        queued: 0,
        sent: 0,
        failed: 0,
        createdAt: '2026-11-28T10:00:00.000Z',
      });
      await stores.notifications.create(notification('ntf_1'), EXPIRES);
      expect((await stores.notifications.list({ limit: 10 })).items.map((i) => i.id)).toEqual([
        'ntf_1',
      ]);
      expect(await stores.notifications.get('job#job_2')).toBeUndefined();
    });
  });
});

describe('MemoryDeliveryQueue', () => {
  it('records copies of the jobs in order', async () => {
    const queue = new MemoryDeliveryQueue();
    const job = { kind: 'resend' as const, notificationId: 'ntf_1' };
    await queue.enqueue([job, { kind: 'resend', notificationId: 'ntf_2', jobId: 'job_1' }]);
    expect(queue.jobs).toEqual([job, { kind: 'resend', notificationId: 'ntf_2', jobId: 'job_1' }]);
    expect(queue.jobs[0]).not.toBe(job);
    expect(queue.drain()).toHaveLength(2);
    expect(queue.jobs).toEqual([]);
  });
});
