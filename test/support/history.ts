/**
 * Notifications and webhooks as the history tests seed them, and a walk over every page of a
 * list that checks the paging rules on the way (only the last page short, none announced after).
 */
import type { Attempt, Notification, WebhookDefinition } from '../../lambdas/core/model';
import type {
  NotificationQuery,
  NotificationStore,
  NotificationSummary,
} from '../../lambdas/ports';

/** A minimal enabled definition for every event type (its notifications are what matters). */
export function webhookDefinition(id: string): WebhookDefinition {
  return {
    id,
    name: `webhook ${id}`,
    events: ['*'],
    enabled: true,
    method: 'POST',
    url: 'https://example.com/hook',
    contentType: 'application/json',
    headers: {},
    body: '{}',
    version: 1,
    createdAt: '2026-11-28T07:00:00.000Z',
    updatedAt: '2026-11-28T07:00:00.000Z',
  };
}

export function notification(id: string, overrides: Partial<Notification> = {}): Notification {
  return {
    id,
    webhookId: 'wh_a',
    eventId: `evt_${id}`,
    eventType: 'LOAN_DISBURSEMENT',
    createdAt: '2026-11-28T10:00:00.000Z',
    status: 'QUEUED',
    failureReason: null,
    attempts: [],
    nextAttemptAt: null,
    ...overrides,
  };
}

/** Attempt `number` (the first is the initial one, the others retries). */
export function attempt(number: number, outcome: 'SENT' | 'FAILED' = 'FAILED'): Attempt {
  return {
    number,
    trigger: number === 1 ? 'initial' : 'retry',
    startedAt: '2026-11-28T10:00:01.000Z',
    durationMs: 12,
    statusCode: outcome === 'SENT' ? 200 : 500,
    outcome,
    error: outcome === 'SENT' ? null : 'INVALID_HTTP_RESPONSE',
    responseBody: outcome === 'SENT' ? 'ok' : 'boom ü',
  };
}

/** What a list page shows of a notification. */
export function summaryOf(n: Notification): NotificationSummary {
  const { attempts, failureDetail: _detail, ...rest } = n;
  return { ...rest, attemptCount: attempts.length };
}

/** Newest first; equal instants ordered by id, descending (the sort key `createdAt#id`). */
export function newestFirst(a: Notification, b: Notification): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Every page of `query` from its cursor (or the first page) to the last. */
export async function walk(
  store: NotificationStore,
  query: NotificationQuery,
): Promise<{ items: NotificationSummary[]; pages: number }> {
  const items: NotificationSummary[] = [];
  let cursor = query.cursor;
  let pages = 0;
  do {
    const page = await store.list({ ...query, ...(cursor ? { cursor } : {}) });
    pages += 1;
    expect(page.items.length).toBeLessThanOrEqual(query.limit);
    // Only the last page may be short, and no page after it is announced.
    if (page.nextCursor !== null) expect(page.items).toHaveLength(query.limit);
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
    if (pages > 500) throw new Error('pagination does not end');
  } while (cursor !== undefined);
  return { items, pages };
}
