import { pageWithinBudget, RESPONSE_ITEMS_BUDGET_BYTES } from '../../lambdas/core/api/pages';
import { InvalidCursorError } from '../../lambdas/core/errors';
import { EventTypeService } from '../../lambdas/core/event-types';
import { MemoryEventTypeStore, MemoryWebhookStore } from '../support/memory-stores';

const items = Array.from({ length: 50 }, (_, i) => ({
  key: `k${String(i).padStart(2, '0')}`,
  // Quotes double when escaped: an item is about 2 x 40 + 20 bytes of escaped JSON.
  text: '"'.repeat(i % 7 === 0 ? 400 : 40),
}));
const keyOf = (item: { key: string }) => [item.key];

function walk(budget: number) {
  const pages: (typeof items)[] = [];
  let cursor: string | undefined;
  do {
    const page = pageWithinBudget(items, keyOf, cursor, budget);
    pages.push(page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return pages;
}

const escapedSize = (page: unknown[]) =>
  page.reduce<number>(
    (sum, item) => sum + Buffer.byteLength(JSON.stringify(JSON.stringify(item))),
    0,
  );

describe('pages bounded by size', () => {
  it('is one page with no cursor when everything fits', () => {
    expect(pageWithinBudget(items, keyOf, undefined)).toEqual({ items, nextCursor: null });
  });

  it('splits a list that does not fit into pages within the budget, every item once and in order', () => {
    const pages = walk(1000);
    expect(pages.length).toBeGreaterThan(5);
    expect(pages.flat()).toEqual(items);
    for (const page of pages) {
      expect(page.length).toBeGreaterThan(0);
      if (page.length > 1) expect(escapedSize(page)).toBeLessThanOrEqual(1000);
    }
  });

  it('still moves on when one item alone is over the budget', () => {
    const pages = walk(100);
    expect(pages.flat()).toEqual(items);
    expect(pages.some((page) => page.length === 1 && escapedSize(page) > 100)).toBe(true);
  });

  it('refuses what is not one of its cursors, and gives an empty page after the last key', () => {
    for (const bad of [
      '%%%',
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('[]').toString('base64url'),
      Buffer.from('[1]').toString('base64url'),
    ])
      expect(() => pageWithinBudget(items, keyOf, bad)).toThrow(InvalidCursorError);
    const afterAll = Buffer.from(JSON.stringify(['zz'])).toString('base64url');
    expect(pageWithinBudget(items, keyOf, afterAll)).toEqual({ items: [], nextCursor: null });
  });

  it('pages a catalogue of long event types that would not fit one Lambda answer', async () => {
    const store = new MemoryEventTypeStore();
    const count = 16_000;
    for (let i = 0; i < count; i++)
      await store.record(
        `TYPE_${String(i).padStart(5, '0')}_${'X'.repeat(240)}`,
        '2026-12-04T06:00:00.000Z',
      );
    const service = new EventTypeService({ eventTypes: store, webhooks: new MemoryWebhookStore() });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await service.list(cursor);
      expect(escapedSize(page.items)).toBeLessThanOrEqual(RESPONSE_ITEMS_BUDGET_BYTES);
      seen.push(...page.items.map((t) => t.type));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor !== undefined);

    expect(pages).toBeGreaterThan(1);
    expect(seen).toHaveLength(count);
    expect([...seen].sort()).toEqual(seen);
    expect(new Set(seen).size).toBe(count);
  });
});
