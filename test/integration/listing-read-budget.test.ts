/**
 * A history page out of read budget, against DynamoDB Local: a status filter on one webhook's
 * partitions (not keyed by status) reads through the other notifications; with no budget left
 * after each partition's first read, pages come back short or empty with a cursor, and
 * following the cursors lists every match once, newest first.
 */
import { DynamoNotificationStore, DynamoWebhookStore } from '../../lambdas/adapters/dynamo-stores';
import type { NotificationSummary } from '../../lambdas/ports';
import { createTables, standInCipher } from '../../local/standins';
import { TEST_CURSOR_KEY } from '../support/cursor-key';
import { notification } from '../support/history';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();

describe('a history page out of read budget', () => {
  it('stops early and resumes where the partitions were read to, listing every match once', async () => {
    const names = {
      webhooks: 'budget-webhooks',
      notifications: 'budget-notifications',
      payloads: 'budget-payloads',
      eventTypes: 'budget-event-types',
    };
    const { dynamo } = standIns().clients;
    await createTables(dynamo, names);
    const webhooks = new DynamoWebhookStore(dynamo, names.webhooks, standInCipher(standIns()));
    const unbounded = new DynamoNotificationStore(
      dynamo,
      names.notifications,
      TEST_CURSOR_KEY,
      webhooks,
    );
    const base = Date.parse('2026-12-04T00:00:00.000Z');
    const failed: string[] = [];
    for (let i = 0; i < 300; i++) {
      const id = `ntf_budget_${String(i).padStart(3, '0')}`;
      const isFailed = i % 50 === 7;
      if (isFailed) failed.unshift(id);
      await unbounded.create(
        notification(id, {
          webhookId: 'wh_budget',
          createdAt: new Date(base + i * 1000).toISOString(),
          status: isFailed ? 'FAILED' : 'SENT',
          failureReason: isFailed ? 'TIMEOUT' : null,
        }),
        2_000_000_000,
      );
    }
    // No budget at all: each partition reads once per page, then the page answers.
    const store = new DynamoNotificationStore(
      dynamo,
      names.notifications,
      TEST_CURSOR_KEY,
      webhooks,
      {
        budgetMs: 0,
      },
    );

    const seen: NotificationSummary[] = [];
    let cursor: string | undefined;
    let pages = 0;
    let shortPages = 0;
    do {
      const page = await store.list({
        webhookId: 'wh_budget',
        status: 'FAILED',
        limit: 5,
        ...(cursor ? { cursor } : {}),
      });
      if (page.nextCursor !== null && page.items.length < 5) shortPages++;
      seen.push(...page.items);
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor !== undefined && pages < 200);

    expect(seen.map((n) => n.id)).toEqual(failed);
    expect(shortPages).toBeGreaterThan(0);
    // The same list with the default budget: one page.
    expect(
      (await unbounded.list({ webhookId: 'wh_budget', status: 'FAILED', limit: 10 })).items.map(
        (n) => n.id,
      ),
    ).toEqual(failed);
  });
});
