/**
 * The page read of a list across many webhooks (dynamo-listing.ts listPage) over a source that
 * records every partition read: how much it reads, what the cursor lets it skip, and that it
 * pages exactly whatever the spread of the notifications.
 */
import fc from 'fast-check';
import { fixedCursorKey } from '../../lambdas/adapters/cursor-key';
import {
  createdKeyOf,
  type IndexedSummary,
  type ListSource,
  listPage,
  matchesFilter,
  shardOf,
} from '../../lambdas/adapters/dynamo-listing';
import { NOTIFICATION_INDEX_SHARDS } from '../../lambdas/adapters/dynamo-schema';
import { ValidationError } from '../../lambdas/core/errors';
import type { NotificationQuery, NotificationSummary } from '../../lambdas/ports';

const KEY = fixedCursorKey();

interface Call {
  readonly key: string;
  readonly limit: number;
}

function summary(webhookId: string, i: number, minute: number): IndexedSummary {
  const id = `ntf_${webhookId.slice(3)}_${String(i).padStart(4, '0')}`;
  const createdAt = new Date(
    Date.parse('2026-11-28T08:00:00.000Z') + minute * 60_000,
  ).toISOString();
  return {
    createdKey: createdKeyOf(createdAt, id),
    summary: {
      id,
      webhookId,
      eventId: `evt_${id}`,
      eventType: 'T',
      createdAt,
      status: 'SENT',
      failureReason: null,
      nextAttemptAt: null,
      attemptCount: 1,
    },
  };
}

/** The same notification, FAILED. */
function failed(item: IndexedSummary): IndexedSummary {
  return { ...item, summary: { ...item.summary, status: 'FAILED', failureReason: 'TIMEOUT' } };
}

/** byWebhook partitions in memory, honouring `limit` and continuations as DynamoDB does. */
function source(items: readonly IndexedSummary[], webhookIds: () => readonly string[]) {
  const calls: Call[] = [];
  const byKey = new Map<string, IndexedSummary[]>();
  for (const item of items) {
    const key = `${item.summary.webhookId}#${shardOf(item.summary.id)}`;
    byKey.set(key, [...(byKey.get(key) ?? []), item]);
  }
  for (const list of byKey.values()) list.sort((a, b) => (a.createdKey < b.createdKey ? 1 : -1));
  const listSource: ListSource = {
    historyIds: async () => webhookIds(),
    read: async (partition, filter, opts) => {
      calls.push({ key: partition.key, limit: opts.limit });
      const all = (byKey.get(partition.key) ?? []).filter((i) =>
        matchesFilter(i, filter, opts.before),
      );
      const start = (opts.continuation as number | undefined) ?? 0;
      const end = start + opts.limit;
      return { items: all.slice(start, end), ...(end < all.length ? { continuation: end } : {}) };
    },
  };
  return { calls, listSource };
}

async function walk(
  listSource: ListSource,
  query: Omit<NotificationQuery, 'cursor'>,
): Promise<NotificationSummary[]> {
  const out: NotificationSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await listPage({ ...query, ...(cursor ? { cursor } : {}) }, listSource, KEY);
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return out;
}

const ids = (n: number, prefix = 'wh_') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const newestFirst = (items: readonly IndexedSummary[]) =>
  [...items].sort((a, b) => (a.createdKey < b.createdKey ? 1 : -1)).map((i) => i.summary);

describe('a page across many webhooks', () => {
  it('asks every partition for a few items, not for a page each', async () => {
    const webhooks = ids(10);
    const items = webhooks.flatMap((w, k) =>
      Array.from({ length: 200 }, (_, i) => summary(w, i, i * 10 + k)),
    );
    const { calls, listSource } = source(items, () => webhooks);
    const partitions = webhooks.length * NOTIFICATION_INDEX_SHARDS;

    const page = await listPage({ limit: 50 }, listSource, KEY);

    expect(page.items).toEqual(newestFirst(items).slice(0, 50));
    expect(new Set(calls.map((c) => c.key)).size).toBe(partitions);
    expect(calls.slice(0, partitions).every((c) => c.limit <= 4)).toBe(true);
    // Each partition read once, then refilled only where the merge took its items.
    expect(calls.length).toBeLessThan(partitions + 50);
    const itemsRead = calls.reduce((sum, c) => sum + c.limit, 0);
    expect(itemsRead).toBeLessThan(partitions * 51);
    expect(itemsRead).toBeLessThan(4 * partitions + 4 * 50);
  });

  it('skips the partitions the cursor marks drained, unless the webhooks changed since', async () => {
    let webhooks = [...ids(2), ...ids(6, 'wh_quiet')];
    const items = ids(2).flatMap((w, k) =>
      Array.from({ length: 40 }, (_, i) => summary(w, i, i * 2 + k)),
    );
    const { calls, listSource } = source(items, () => webhooks);
    const first = await listPage({ limit: 10 }, listSource, KEY);
    const quietReads = () => calls.filter((c) => c.key.startsWith('wh_quiet')).length;
    expect(quietReads()).toBe(6 * NOTIFICATION_INDEX_SHARDS);

    calls.length = 0;
    const second = await listPage({ limit: 10, cursor: first.nextCursor! }, listSource, KEY);
    expect(quietReads()).toBe(0);

    calls.length = 0;
    webhooks = [...webhooks, 'wh_new'];
    const again = await listPage({ limit: 10, cursor: first.nextCursor! }, listSource, KEY);
    expect(quietReads()).toBe(6 * NOTIFICATION_INDEX_SHARDS);
    expect(again.items).toEqual(second.items);
    expect(second.items).toEqual(newestFirst(items).slice(10, 20));
  });

  it('pages exactly over any spread of notifications and page size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: 11 }), fc.nat({ max: 30 })), { maxLength: 120 }),
        fc.integer({ min: 1, max: 9 }),
        async (spread, limit) => {
          const items = spread.map(([w, minute], i) => summary(`wh_${w}`, i, minute));
          const { listSource } = source(items, () => ids(12));
          expect(await walk(listSource, { limit })).toEqual(newestFirst(items));
        },
      ),
      { numRuns: 60, seed: 20261203 },
    );
  });
});

describe('a page out of read budget', () => {
  /**
   * One webhook's 8 partitions as DynamoDB reads them with a filter the key does not carry:
   * `limit` counts the items looked at, the filter drops the rest, and the continuation and
   * `scannedTo` name the last item looked at. Every read moves the clock 1 ms. `shardFor`
   * places a notification in a partition (by default where its id puts it).
   */
  function filteredSource(
    items: readonly IndexedSummary[],
    clock: { ms: number },
    shardFor: (id: string) => number = shardOf,
  ) {
    const byKey = new Map<string, IndexedSummary[]>();
    for (const item of items) {
      const key = `${item.summary.webhookId}#${shardFor(item.summary.id)}`;
      byKey.set(key, [...(byKey.get(key) ?? []), item]);
    }
    for (const list of byKey.values()) list.sort((a, b) => (a.createdKey < b.createdKey ? 1 : -1));
    let reads = 0;
    const listSource: ListSource = {
      historyIds: async () => ['wh_a'],
      read: async (partition, filter, opts) => {
        reads++;
        clock.ms += 1;
        const all = (byKey.get(partition.key) ?? []).filter(
          (i) => opts.before === undefined || i.createdKey < opts.before,
        );
        const start = (opts.continuation as number | undefined) ?? 0;
        const end = Math.min(start + opts.limit, all.length);
        const looked = all.slice(start, end);
        return {
          items: looked.filter((i) => matchesFilter(i, filter, opts.before)),
          ...(end < all.length
            ? { continuation: end, scannedTo: looked.at(-1)?.createdKey ?? '' }
            : {}),
        };
      },
    };
    return { listSource, reads: () => reads };
  }

  it('answers what it can prove newest, with a cursor where the stopped partitions were, and the pages together list every match once', async () => {
    // 2,000 notifications of one webhook, one in 97 FAILED: a status filter reads through many.
    const items = Array.from({ length: 2000 }, (_, i) => {
      const item = summary('wh_a', i, i);
      return i % 97 === 5
        ? { ...item, summary: { ...item.summary, status: 'FAILED' as const } }
        : item;
    });
    const clock = { ms: 0 };
    const { listSource, reads } = filteredSource(items, clock);
    const budget = { budgetMs: 12, now: () => clock.ms };

    const seen: string[] = [];
    let cursor: string | undefined;
    let shortPages = 0;
    let pages = 0;
    do {
      const before = reads();
      const page = await listPage(
        { webhookId: 'wh_a', status: 'FAILED', limit: 5, ...(cursor ? { cursor } : {}) },
        listSource,
        KEY,
        budget,
      );
      // Within the budget, plus one read per partition that was under way when it ran out.
      expect(reads() - before).toBeLessThanOrEqual(12 + 8 + 8);
      if (page.nextCursor !== null && page.items.length < 5) shortPages++;
      seen.push(...page.items.map((n) => n.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor !== undefined && pages < 1000);

    const expected = items
      .filter((i) => i.summary.status === 'FAILED')
      .sort((a, b) => (a.createdKey < b.createdKey ? 1 : -1))
      .map((i) => i.summary.id);
    expect(seen).toEqual(expected);
    expect(shortPages).toBeGreaterThan(0);
  });

  it('with no budget left from the start, reads each partition once per page and answers with a cursor', async () => {
    // No match among the newest items: every partition has to read on to find one.
    const items = Array.from({ length: 400 }, (_, i) =>
      i === 5 ? failed(summary('wh_a', i, i)) : summary('wh_a', i, i),
    );
    const clock = { ms: 0 };
    const { listSource, reads } = filteredSource(items, clock);
    const query = { webhookId: 'wh_a', status: 'FAILED' as const, limit: 5 };
    // The clock stands still: the deadline is now, so no read but a partition's first starts.
    const frozen = { budgetMs: 0, now: () => 0 };

    const first = await listPage(query, listSource, KEY, frozen);
    expect(reads()).toBe(NOTIFICATION_INDEX_SHARDS);
    expect(first.items).toEqual([]);
    expect(first.nextCursor).not.toBeNull();

    const second = await listPage({ ...query, cursor: first.nextCursor! }, listSource, KEY, frozen);
    expect(reads()).toBe(2 * NOTIFICATION_INDEX_SHARDS);
    expect(second.nextCursor).not.toBeNull();
  });

  it.each<
    [string, number, readonly (readonly [minute: number, shard: number, isFailed: boolean])[]]
  >([
    [
      // The page fills, then its look-ahead stops the partition: a match is still below.
      'a page filled before its partition stopped',
      1,
      Array.from({ length: 10 }, (_, m) => [m, 0, m === 9 || m === 2] as const),
    ],
    [
      // The page fills from one partition while another stopped below it; the first still
      // holds matches between the page's last item and where the other stopped.
      'a page filled from one partition above another that stopped',
      2,
      [
        ...Array.from({ length: 4 }, (_, m) => [m, 0, false] as const),
        ...Array.from({ length: 5 }, (_, k) => [6 + k, 1, true] as const),
      ],
    ],
  ])(
    'with no budget at all, pages every match once, newest first: %s',
    async (_name, limit, layout) => {
      const items = layout.map(([minute, , isFailed], i) => {
        const item = summary('wh_a', i, minute);
        return isFailed ? failed(item) : item;
      });
      const shards = new Map(items.map((item, i) => [item.summary.id, layout[i]![1]]));
      const { listSource } = filteredSource(items, { ms: 0 }, (id) => shards.get(id)!);
      const frozen = { budgetMs: 0, now: () => 0 };

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await listPage(
          { webhookId: 'wh_a', status: 'FAILED', limit, ...(cursor ? { cursor } : {}) },
          listSource,
          KEY,
          frozen,
        );
        seen.push(...page.items.map((n) => n.id));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor !== undefined && pages < 100);

      expect(seen).toEqual(
        newestFirst(items.filter((i) => i.summary.status === 'FAILED')).map((n) => n.id),
      );
    },
  );

  it('gives a cursor after a page whose last match emptied what its partition had read', async () => {
    // One partition; a match every third notification: each read of two holds at most one.
    const items = Array.from({ length: 9 }, (_, m) =>
      m % 3 === 2 ? failed(summary('wh_a', m, m)) : summary('wh_a', m, m),
    );
    const { listSource } = filteredSource(items, { ms: 0 }, () => 0);
    const query = { webhookId: 'wh_a', status: 'FAILED' as const, limit: 1 };

    const first = await listPage(query, listSource, KEY);
    expect(first.items.map((n) => n.id)).toEqual([items[8]!.summary.id]);
    expect(first.nextCursor).not.toBeNull();
    const rest = await listPage({ ...query, limit: 5, cursor: first.nextCursor! }, listSource, KEY);
    expect(rest.items.map((n) => n.id)).toEqual([items[5]!.summary.id, items[2]!.summary.id]);
    expect(rest.nextCursor).toBeNull();
  });
});

describe('a query the listing cannot answer', () => {
  it.each<[string, NotificationQuery, string]>([
    ['a limit of 0', { limit: 0 }, 'limit'],
    ['a negative limit', { limit: -1 }, 'limit'],
    ['a fractional limit', { limit: 1.5 }, 'limit'],
    ['an unknown status', { limit: 5, status: 'DONE' as NotificationQuery['status'] }, 'status'],
  ])('is refused with VALIDATION_ERROR before any read: %s', async (_name, query, path) => {
    const { calls, listSource } = source([summary('wh_a', 0, 0)], () => ['wh_a']);
    const err = await listPage(query, listSource, KEY).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).details.map((d) => d.path)).toEqual([path]);
    expect(calls).toEqual([]);
  });
});
