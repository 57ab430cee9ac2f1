/**
 * Pages of a whole, sorted list (webhook definitions, the event-type catalogue) bounded by
 * their size: a Lambda answer is at most 6 MB, and the answer's body travels escaped inside
 * it, where every `"` and `\` doubles. A page holds items in order until their escaped JSON
 * would pass RESPONSE_ITEMS_BUDGET_BYTES, and then `nextCursor` names where the next page
 * starts; a list that fits is one page, as it always was, with `nextCursor: null`.
 *
 * The cursor is the sort key of the page's last item (base64url JSON). It is a position in a
 * list the client may read in full anyway, so it carries no MAC: one that does not decode to a
 * key is a 400 INVALID_CURSOR, any key is a valid position.
 */
import { InvalidCursorError } from '../errors';

/** Escaped JSON bytes of one page's items: room under 6 MB for the envelope and the headers. */
export const RESPONSE_ITEMS_BUDGET_BYTES = 4_000_000;

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/**
 * The page of `sorted` (ascending by `keyOf`, keys unique) after `cursor`: at least one item
 * when any is left, however large, and then as many as fit within `budgetBytes`.
 */
export function pageWithinBudget<T>(
  sorted: readonly T[],
  keyOf: (item: T) => readonly string[],
  cursor: string | undefined,
  budgetBytes = RESPONSE_ITEMS_BUDGET_BYTES,
): Page<T> {
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  let start = 0;
  if (after !== undefined)
    while (start < sorted.length && !isAfter(keyOf(sorted[start] as T), after)) start++;
  const items: T[] = [];
  let used = 0;
  for (let i = start; i < sorted.length; i++) {
    const item = sorted[i] as T;
    const size = Buffer.byteLength(JSON.stringify(JSON.stringify(item)));
    if (items.length > 0 && used + size > budgetBytes) {
      return { items, nextCursor: encodeCursor(keyOf(items[items.length - 1] as T)) };
    }
    items.push(item);
    used += size;
  }
  return { items, nextCursor: null };
}

/** String order by UTF-16 code units (not the locale's): the order cursors compare in. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isAfter(key: readonly string[], after: readonly string[]): boolean {
  for (let i = 0; i < Math.max(key.length, after.length); i++) {
    const a = key[i] ?? '';
    const b = after[i] ?? '';
    if (a !== b) return a > b;
  }
  return false;
}

function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): readonly string[] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('not a cursor of this list');
  }
  if (!Array.isArray(key) || key.length === 0 || !key.every((k) => typeof k === 'string'))
    throw new InvalidCursorError('not a cursor of this list');
  return key;
}
