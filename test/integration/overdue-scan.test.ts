/**
 * How far one sweep's scan of the WAITING partitions goes (listOverdueRetries against DynamoDB
 * Local): the shard read first moves with the sweep's slot, and no read starts past the budget,
 * so a backlog in the first shards cannot keep the last ones from ever being swept.
 */
import { shardOf } from '../../lambdas/adapters/dynamo-listing';
import { NOTIFICATION_INDEX_SHARDS } from '../../lambdas/adapters/dynamo-schema';
import { DynamoNotificationStore, DynamoWebhookStore } from '../../lambdas/adapters/dynamo-stores';
import { createTables, standInCipher } from '../../local/standins';
import { TEST_CURSOR_KEY } from '../support/cursor-key';
import { notification } from '../support/history';
import { useStandIns } from '../support/standins';

const standIns = useStandIns();

/** One overdue retry in every shard: shard -> its notification id. */
async function seeded(): Promise<{ store: DynamoNotificationStore; byShard: Map<number, string> }> {
  const names = {
    webhooks: 'scan-webhooks',
    notifications: 'scan-notifications',
    payloads: 'scan-payloads',
    eventTypes: 'scan-event-types',
  };
  const { dynamo } = standIns().clients;
  await createTables(dynamo, names);
  const webhooks = new DynamoWebhookStore(dynamo, names.webhooks, standInCipher(standIns()));
  const store = new DynamoNotificationStore(dynamo, names.notifications, TEST_CURSOR_KEY, webhooks);
  const byShard = new Map<number, string>();
  for (let i = 0; byShard.size < NOTIFICATION_INDEX_SHARDS; i++) {
    const id = `ntf_scan_${i}`;
    if (byShard.has(shardOf(id))) continue;
    byShard.set(shardOf(id), id);
    const created = await store.create(
      notification(id, {
        status: 'WAITING',
        waitingReason: 'RETRY_SCHEDULED',
        nextAttemptAt: '2026-12-04T05:00:00.000Z',
      }),
      2_000_000_000,
    );
    expect(created).toBe(true);
  }
  return { store, byShard };
}

describe('the overdue-retry scan of a sweep', () => {
  it('starts at the shard its rotation names, and stops starting reads once its budget is spent', async () => {
    const { store, byShard } = await seeded();
    const dueBefore = '2026-12-04T06:00:00.000Z';

    // Everything, whatever the rotation.
    for (const rotation of [0, 3, 13])
      expect((await store.listOverdueRetries(dueBefore, 100, { rotation })).sort()).toEqual(
        [...byShard.values()].sort(),
      );
    // The first found is the rotation's shard (modulo the shards).
    for (const rotation of [0, 5, NOTIFICATION_INDEX_SHARDS + 2])
      expect(await store.listOverdueRetries(dueBefore, 1, { rotation })).toEqual([
        byShard.get(rotation % NOTIFICATION_INDEX_SHARDS),
      ]);
    // No budget left after the first read: only the first shard's candidates.
    expect(await store.listOverdueRetries(dueBefore, 100, { rotation: 6, budgetMs: 0 })).toEqual([
      byShard.get(6),
    ]);
  });
});
