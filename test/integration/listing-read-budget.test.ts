/**
 * A history page out of read budget, against DynamoDB Local: a status filter on one webhook's
 * partitions (not keyed by status) reads through the other notifications; with no budget left
 * after each partition's first read, pages come back short or empty with a cursor, and
 * following the cursors lists every match once, newest first, with or without a time range.
 */
import { DynamoNotificationStore, DynamoWebhookStore } from '../../lambdas/adapters/dynamo-stores';
import type { NotificationQuery, NotificationSummary } from '../../lambdas/ports';
import { createTables, standInCipher } from '../../local/standins';
import { TEST_CURSOR_KEY } from '../support/cursor-key';
import { notification } from '../support/history';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();
const base = Date.parse('2026-12-04T00:00:00.000Z');
const at = (second: number) => new Date(base + second * 1000).toISOString();

describe('a history page out of read budget', () => {
  let unbounded: DynamoNotificationStore;
  let store: DynamoNotificationStore;
  /** The FAILED notifications, newest first, with the second each was created at. */
  const failed: { id: string; second: number }[] = [];

  beforeAll(async () => {
    const names = {
      webhooks: 'budget-webhooks',
      notifications: 'budget-notifications',
      payloads: 'budget-payloads',
      eventTypes: 'budget-event-types',
    };
    const { dynamo } = standIns().clients;
    await createTables(dynamo, names);
    const webhooks = new DynamoWebhookStore(dynamo, names.webhooks, standInCipher(standIns()));
    unbounded = new DynamoNotificationStore(dynamo, names.notifications, TEST_CURSOR_KEY, webhooks);
    for (let i = 0; i < 300; i++) {
      const id = `ntf_budget_${String(i).padStart(3, '0')}`;
      const isFailed = i % 50 === 7;
      if (isFailed) failed.unshift({ id, second: i });
      await unbounded.create(
        notification(id, {
          webhookId: 'wh_budget',
          createdAt: at(i),
          status: isFailed ? 'FAILED' : 'SENT',
          failureReason: isFailed ? 'TIMEOUT' : null,
        }),
        2_000_000_000,
      );
    }
    // No budget at all: each partition reads once per page, then the page answers.
    store = new DynamoNotificationStore(dynamo, names.notifications, TEST_CURSOR_KEY, webhooks, {
      budgetMs: 0,
    });
  });

  it.each<[string, Pick<NotificationQuery, 'from' | 'to'>, number, number]>([
    ['no time range', {}, 0, 300],
    ['a time range', { from: at(100), to: at(250) }, 100, 250],
    ['only an end', { to: at(280) }, 0, 280],
  ])(
    'stops early and resumes where the partitions were read to, listing every match once: %s',
    async (_name, range, from, to) => {
      const expected = failed.filter((f) => f.second >= from && f.second < to).map((f) => f.id);
      expect(expected.length).toBeGreaterThan(1);
      const seen: NotificationSummary[] = [];
      let cursor: string | undefined;
      let pages = 0;
      let shortPages = 0;
      do {
        const page = await store.list({
          webhookId: 'wh_budget',
          status: 'FAILED',
          ...range,
          limit: 5,
          ...(cursor ? { cursor } : {}),
        });
        if (page.nextCursor !== null && page.items.length < 5) shortPages++;
        seen.push(...page.items);
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor !== undefined && pages < 200);

      expect(seen.map((n) => n.id)).toEqual(expected);
      expect(shortPages).toBeGreaterThan(0);
      // The same list with the default budget: one page.
      const whole = await unbounded.list({
        webhookId: 'wh_budget',
        status: 'FAILED',
        ...range,
        limit: 10,
      });
      expect(whole.items.map((n) => n.id)).toEqual(expected);
    },
  );
});
